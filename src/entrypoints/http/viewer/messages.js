// The page's words in each language it speaks. English unless the link's host asks, in the
// URL's fragment, for another with `lang=` (`de`, `fr`, `es`, or a regional tag such as
// `de-AT`), or for `lang=auto`: the first of the reader's browser languages spoken here.
// What the server says (a search it refuses, an export's error) and the technical reason
// a proof fails stay in English, quoted inside the reader's language.
//
// Every catalogue holds the same keys; a message that takes values is a function. A
// catalogue is made for a locale: `count` writes numbers its way.

const en = (count) => ({
  title: "Audit log",
  searchEvents: "Search events",
  action: "Action",
  actor: "Actor",
  target: "Target",
  details: "Details",
  from: "From",
  until: "Until",
  search: "Search",
  actionExample: "user.* or user.login",
  detailsExample: "order_id=ord_7",
  exportResults: "Export these results",
  format: "Format",
  mostFrequent: "Most frequent:",
  time: "Time",
  location: "Location",
  loadMore: "Load more",
  event: "Event",
  signedNoteSummary: "The signed checkpoint it was verified in",
  signedNoteHelp: "The log's signed state when this event was checked. Keep it, or give it to an auditor: they can check that the log never shows anyone a history without it.",
  eventsByActor: "Events by this actor",
  close: "Close",
  expired: "This link has expired or was revoked. Ask whoever shared it with you for a new one.",
  tooMany: (seconds) => `Too many requests just now. Please wait ${seconds ? `${count(seconds)} seconds` : "a few seconds"} and try again.`,
  refused: (reason) => `This search cannot be made with this link: ${reason}`,
  tooBroad: "This search covers too many events to answer in time. Narrow it with From and Until, an action or an actor.",
  unreachable: "The audit log could not be reached. Check your connection and try again.",
  failed: (reference) => `Something went wrong${reference ? ` (reference ${reference})` : ""}. Please try again.`,
  loading: "Loading…",
  noMatch: "No events match this search.",
  showing: (shown, total) => `Showing ${count(shown)} of ${count(total)} ${total === 1 ? "event" : "events"}.`,
  checking: "Checking this event against the signed log…",
  allBy: (actor) => `All events by ${actor}`,
  noKey: "This link carries no verifier key: the event cannot be checked.",
  pending: "This event is still being processed; it joins the signed log within seconds.",
  awaitingWitnesses: "Waiting for the log's witnesses to cosign…",
  awaitingCheckpoint: "Waiting for the next signed checkpoint…",
  unverifiable: (reason) => `Warning: this event could not be verified (${reason})`,
  verified: (when, size, witnesses) => `Verified in signed log of ${when || `size ${count(size)}`}${witnesses.length ? `, cosigned by ${witnesses.join(", ")}` : ""}`,
  notVerified: (reason) => `Warning: this event could not be verified against the signed log: ${reason}. Do not rely on it; tell whoever shared this link.`,
  uncosigned: (verified, reason) => `${verified}, but not cosigned by the log's witnesses (${reason}). Its history may differ from what they saw; tell whoever shared this link.`,
  shrunk: (size, seen, when) => `the log holds ${count(size)} events where this browser verified ${count(seen)} on ${when}: its history was rewritten`,
  diverged: (when) => `the log does not extend the one this browser verified on ${when}: its history was rewritten`,
  preparing: "Preparing the export…",
  exportSlow: "The export is taking too long; try a narrower search.",
  exportEnded: (status, error) => `The export ${status}: ${error || "try again"}.`,
  downloadAgain: "Download again",
  exported: (rows, kilobytes) => `Exported ${count(rows)} ${rows === 1 ? "event" : "events"} (${count(kilobytes)} KB). `,
  incomplete: "This link is incomplete: open the full link you were given.",
  recordLabel: "Workspace change",
  recordNote: "Recorded by Auditrail: a change to this audit log's own workspace (its settings, keys or integrations), not an event sent by an application.",
});

const de = (count) => ({
  title: "Prüfprotokoll",
  searchEvents: "Ereignisse durchsuchen",
  action: "Aktion",
  actor: "Akteur",
  target: "Ziel",
  details: "Details",
  from: "Von",
  until: "Bis",
  search: "Suchen",
  actionExample: "user.* oder user.login",
  detailsExample: "order_id=ord_7",
  exportResults: "Diese Ergebnisse exportieren",
  format: "Format",
  mostFrequent: "Am häufigsten:",
  time: "Zeit",
  location: "Ort",
  loadMore: "Mehr laden",
  event: "Ereignis",
  signedNoteSummary: "Der signierte Checkpoint, in dem es geprüft wurde",
  signedNoteHelp: "Der signierte Stand des Protokolls, als dieses Ereignis geprüft wurde. Bewahren Sie ihn auf oder geben Sie ihn einer Prüferin oder einem Prüfer: So lässt sich prüfen, dass das Protokoll niemandem eine Historie ohne ihn zeigt.",
  eventsByActor: "Ereignisse dieses Akteurs",
  close: "Schließen",
  expired: "Dieser Link ist abgelaufen oder wurde widerrufen. Bitten Sie die Person, die ihn mit Ihnen geteilt hat, um einen neuen.",
  tooMany: (seconds) => `Gerade zu viele Anfragen. Bitte warten Sie ${seconds ? `${count(seconds)} Sekunden` : "einige Sekunden"} und versuchen Sie es erneut.`,
  refused: (reason) => `Diese Suche ist mit diesem Link nicht möglich: ${reason}`,
  tooBroad: "Diese Suche umfasst zu viele Ereignisse, um rechtzeitig zu antworten. Schränken Sie sie mit Von und Bis, einer Aktion oder einem Akteur ein.",
  unreachable: "Das Prüfprotokoll ist nicht erreichbar. Prüfen Sie Ihre Verbindung und versuchen Sie es erneut.",
  failed: (reference) => `Etwas ist schiefgelaufen${reference ? ` (Referenz ${reference})` : ""}. Bitte versuchen Sie es erneut.`,
  loading: "Wird geladen…",
  noMatch: "Keine Ereignisse entsprechen dieser Suche.",
  showing: (shown, total) => `${count(shown)} von ${count(total)} ${total === 1 ? "Ereignis" : "Ereignissen"} angezeigt.`,
  checking: "Dieses Ereignis wird mit dem signierten Protokoll abgeglichen…",
  allBy: (actor) => `Alle Ereignisse von ${actor}`,
  noKey: "Dieser Link enthält keinen Prüfschlüssel: Das Ereignis kann nicht geprüft werden.",
  pending: "Dieses Ereignis wird noch verarbeitet; es kommt binnen Sekunden in das signierte Protokoll.",
  awaitingWitnesses: "Warten auf die Gegensignatur der Zeugen des Protokolls…",
  awaitingCheckpoint: "Warten auf den nächsten signierten Checkpoint…",
  unverifiable: (reason) => `Warnung: Dieses Ereignis konnte nicht geprüft werden (${reason})`,
  verified: (when, size, witnesses) => `Geprüft im signierten Protokoll ${when ? `vom ${when}` : `der Größe ${count(size)}`}${witnesses.length ? `, gegengezeichnet von ${witnesses.join(", ")}` : ""}`,
  notVerified: (reason) => `Warnung: Dieses Ereignis konnte nicht mit dem signierten Protokoll abgeglichen werden: ${reason}. Verlassen Sie sich nicht darauf; sagen Sie es der Person, die diesen Link geteilt hat.`,
  uncosigned: (verified, reason) => `${verified}, aber nicht von den Zeugen des Protokolls gegengezeichnet (${reason}). Seine Historie kann von der abweichen, die sie gesehen haben; sagen Sie es der Person, die diesen Link geteilt hat.`,
  shrunk: (size, seen, when) => `das Protokoll enthält ${count(size)} Ereignisse, wo dieser Browser am ${when} ${count(seen)} geprüft hat: Seine Historie wurde umgeschrieben`,
  diverged: (when) => `das Protokoll setzt das am ${when} in diesem Browser geprüfte nicht fort: Seine Historie wurde umgeschrieben`,
  preparing: "Der Export wird vorbereitet…",
  exportSlow: "Der Export dauert zu lange; versuchen Sie eine engere Suche.",
  exportEnded: (status, error) => `Der Export wurde nicht fertig (${status}): ${error || "bitte versuchen Sie es erneut"}.`,
  downloadAgain: "Erneut herunterladen",
  exported: (rows, kilobytes) => `${count(rows)} ${rows === 1 ? "Ereignis" : "Ereignisse"} exportiert (${count(kilobytes)} KB). `,
  incomplete: "Dieser Link ist unvollständig: Öffnen Sie den vollständigen Link, den Sie erhalten haben.",
  recordLabel: "Änderung am Arbeitsbereich",
  recordNote: "Von Auditrail aufgezeichnet: eine Änderung am Arbeitsbereich dieses Prüfprotokolls selbst (seine Einstellungen, Schlüssel oder Integrationen), kein von einer Anwendung gesendetes Ereignis.",
});

const fr = (count) => ({
  title: "Journal d'audit",
  searchEvents: "Rechercher des événements",
  action: "Action",
  actor: "Acteur",
  target: "Cible",
  details: "Détails",
  from: "Du",
  until: "Au",
  search: "Rechercher",
  actionExample: "user.* ou user.login",
  detailsExample: "order_id=ord_7",
  exportResults: "Exporter ces résultats",
  format: "Format",
  mostFrequent: "Les plus fréquentes :",
  time: "Date",
  location: "Lieu",
  loadMore: "Afficher plus",
  event: "Événement",
  signedNoteSummary: "Le point de contrôle signé dans lequel il a été vérifié",
  signedNoteHelp: "L'état signé du journal au moment où cet événement a été vérifié. Conservez-le, ou remettez-le à un auditeur : il pourra vérifier que le journal ne montre à personne un historique qui ne le contient pas.",
  eventsByActor: "Événements de cet acteur",
  close: "Fermer",
  expired: "Ce lien a expiré ou a été révoqué. Demandez-en un nouveau à la personne qui vous l'a transmis.",
  tooMany: (seconds) => `Trop de requêtes pour le moment. Patientez ${seconds ? `${count(seconds)} secondes` : "quelques secondes"} et réessayez.`,
  refused: (reason) => `Cette recherche n'est pas possible avec ce lien : ${reason}`,
  tooBroad: "Cette recherche porte sur trop d'événements pour répondre à temps. Affinez-la avec Du et Au, une action ou un acteur.",
  unreachable: "Le journal d'audit est injoignable. Vérifiez votre connexion et réessayez.",
  failed: (reference) => `Une erreur s'est produite${reference ? ` (référence ${reference})` : ""}. Veuillez réessayer.`,
  loading: "Chargement…",
  noMatch: "Aucun événement ne correspond à cette recherche.",
  showing: (shown, total) => `${count(shown)} sur ${count(total)} ${total === 1 ? "événement affiché" : "événements affichés"}.`,
  checking: "Vérification de cet événement dans le journal signé…",
  allBy: (actor) => `Tous les événements de ${actor}`,
  noKey: "Ce lien ne contient pas de clé de vérification : l'événement ne peut pas être vérifié.",
  pending: "Cet événement est encore en cours de traitement ; il rejoint le journal signé en quelques secondes.",
  awaitingWitnesses: "En attente de la contre-signature des témoins du journal…",
  awaitingCheckpoint: "En attente du prochain point de contrôle signé…",
  unverifiable: (reason) => `Attention : cet événement n'a pas pu être vérifié (${reason})`,
  verified: (when, size, witnesses) => `Vérifié dans le journal signé ${when ? `du ${when}` : `de taille ${count(size)}`}${witnesses.length ? `, contresigné par ${witnesses.join(", ")}` : ""}`,
  notVerified: (reason) => `Attention : cet événement n'a pas pu être vérifié dans le journal signé : ${reason}. Ne vous y fiez pas ; prévenez la personne qui a partagé ce lien.`,
  uncosigned: (verified, reason) => `${verified}, mais pas contresigné par les témoins du journal (${reason}). Son historique peut différer de celui qu'ils ont vu ; prévenez la personne qui a partagé ce lien.`,
  shrunk: (size, seen, when) => `le journal contient ${count(size)} événements alors que ce navigateur en a vérifié ${count(seen)} le ${when} : son historique a été réécrit`,
  diverged: (when) => `le journal ne prolonge pas celui que ce navigateur a vérifié le ${when} : son historique a été réécrit`,
  preparing: "Préparation de l'export…",
  exportSlow: "L'export prend trop de temps ; essayez une recherche plus restreinte.",
  exportEnded: (status, error) => `L'export n'a pas abouti (${status}) : ${error || "réessayez"}.`,
  downloadAgain: "Télécharger à nouveau",
  exported: (rows, kilobytes) => `${count(rows)} ${rows === 1 ? "événement exporté" : "événements exportés"} (${count(kilobytes)} Ko). `,
  incomplete: "Ce lien est incomplet : ouvrez le lien complet qui vous a été transmis.",
  recordLabel: "Modification de l'espace de travail",
  recordNote: "Enregistré par Auditrail : une modification de l'espace de travail de ce journal d'audit lui-même (ses paramètres, clés ou intégrations), et non un événement envoyé par une application.",
});

const es = (count) => ({
  title: "Registro de auditoría",
  searchEvents: "Buscar eventos",
  action: "Acción",
  actor: "Actor",
  target: "Objetivo",
  details: "Detalles",
  from: "Desde",
  until: "Hasta",
  search: "Buscar",
  actionExample: "user.* o user.login",
  detailsExample: "order_id=ord_7",
  exportResults: "Exportar estos resultados",
  format: "Formato",
  mostFrequent: "Más frecuentes:",
  time: "Fecha",
  location: "Ubicación",
  loadMore: "Cargar más",
  event: "Evento",
  signedNoteSummary: "El punto de control firmado en el que se verificó",
  signedNoteHelp: "El estado firmado del registro cuando se comprobó este evento. Guárdelo o entrégueselo a un auditor: podrá comprobar que el registro nunca muestra a nadie un historial sin él.",
  eventsByActor: "Eventos de este actor",
  close: "Cerrar",
  expired: "Este enlace ha caducado o ha sido revocado. Pida uno nuevo a quien lo compartió con usted.",
  tooMany: (seconds) => `Demasiadas solicitudes en este momento. Espere ${seconds ? `${count(seconds)} segundos` : "unos segundos"} y vuelva a intentarlo.`,
  refused: (reason) => `Esta búsqueda no se puede hacer con este enlace: ${reason}`,
  tooBroad: "Esta búsqueda abarca demasiados eventos para responder a tiempo. Acótela con Desde y Hasta, una acción o un actor.",
  unreachable: "No se pudo acceder al registro de auditoría. Compruebe su conexión y vuelva a intentarlo.",
  failed: (reference) => `Algo salió mal${reference ? ` (referencia ${reference})` : ""}. Vuelva a intentarlo.`,
  loading: "Cargando…",
  noMatch: "Ningún evento coincide con esta búsqueda.",
  showing: (shown, total) => `Se muestran ${count(shown)} de ${count(total)} ${total === 1 ? "evento" : "eventos"}.`,
  checking: "Comprobando este evento con el registro firmado…",
  allBy: (actor) => `Todos los eventos de ${actor}`,
  noKey: "Este enlace no incluye clave de verificación: el evento no se puede comprobar.",
  pending: "Este evento aún se está procesando; se incorpora al registro firmado en unos segundos.",
  awaitingWitnesses: "Esperando la cofirma de los testigos del registro…",
  awaitingCheckpoint: "Esperando el siguiente punto de control firmado…",
  unverifiable: (reason) => `Atención: no se pudo verificar este evento (${reason})`,
  verified: (when, size, witnesses) => `Verificado en el registro firmado ${when ? `del ${when}` : `de tamaño ${count(size)}`}${witnesses.length ? `, cofirmado por ${witnesses.join(", ")}` : ""}`,
  notVerified: (reason) => `Atención: no se pudo verificar este evento con el registro firmado: ${reason}. No confíe en él; avise a quien compartió este enlace.`,
  uncosigned: (verified, reason) => `${verified}, pero sin la cofirma de los testigos del registro (${reason}). Su historial puede diferir del que ellos vieron; avise a quien compartió este enlace.`,
  shrunk: (size, seen, when) => `el registro contiene ${count(size)} eventos donde este navegador verificó ${count(seen)} el ${when}: su historial fue reescrito`,
  diverged: (when) => `el registro no continúa el que este navegador verificó el ${when}: su historial fue reescrito`,
  preparing: "Preparando la exportación…",
  exportSlow: "La exportación está tardando demasiado; pruebe una búsqueda más acotada.",
  exportEnded: (status, error) => `La exportación no se completó (${status}): ${error || "vuelva a intentarlo"}.`,
  downloadAgain: "Descargar de nuevo",
  exported: (rows, kilobytes) => `${count(rows)} ${rows === 1 ? "evento exportado" : "eventos exportados"} (${count(kilobytes)} KB). `,
  incomplete: "Este enlace está incompleto: abra el enlace completo que recibió.",
  recordLabel: "Cambio en el espacio de trabajo",
  recordNote: "Registrado por Auditrail: un cambio en el propio espacio de trabajo de este registro de auditoría (su configuración, claves o integraciones), no un evento enviado por una aplicación.",
});

export const CATALOGUES = { en, de, fr, es };

// The language the link asks for, and the locale its times and numbers are written in:
// the tag that chose it (`de-AT`), or the browser's own where nothing was asked.
export function chooseLanguage(asked, preferred = []) {
  const wanted = asked === "auto" ? preferred : [asked];
  for (const tag of wanted) {
    const language = String(tag || "").toLowerCase().split("-")[0];
    if (Object.hasOwn(CATALOGUES, language)) return { language, locale: supported(tag) };
  }
  return { language: "en", locale: undefined };
}

function supported(tag) {
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined;  // not a well-formed tag: its language, written the browser's way
  }
}

// `t(key, ...values)`: the message in the chosen language, its numbers written the locale's
// way.
export function translator({ language, locale }) {
  const numbers = new Intl.NumberFormat(locale);
  const catalogue = CATALOGUES[language]((n) => numbers.format(n));
  return (key, ...values) => {
    const message = catalogue[key];
    return typeof message === "function" ? message(...values) : message;
  };
}
