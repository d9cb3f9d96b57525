// Checks, in the reader's browser, that an event is in the log its host vouched for:
// a C2SP signed note (Ed25519, WebCrypto) and an RFC 9162 inclusion path (SHA-256).
// The verifier key comes from the link's fragment, never from the server being checked.

const encoder = new TextEncoder();

export function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function toBase64(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) { out.set(part, at); at += part.length; }
  return out;
}

function equal(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

export async function nodeHash(left, right) {
  return sha256(concat(new Uint8Array([1]), left, right));
}

// RFC 9162 §2.1.3.2
export async function verifyInclusion(index, size, leaf, path, root) {
  if (index < 0 || index >= size) return false;
  let fn = index, sn = size - 1, r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn !== 0 && fn % 2 === 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

// RFC 9162 §2.1.4.2: the tree of size `second` extends the one of size `first`.
export async function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
  if (first < 0 || first > second) return false;
  if (first === second) return proof.length === 0 && equal(firstRoot, secondRoot);
  if (first === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = Number.isInteger(Math.log2(first)) ? [firstRoot, ...proof] : [...proof];
  let fn = first - 1, sn = second - 1;
  while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeHash(c, fr); sr = await nodeHash(c, sr);
      while (fn !== 0 && fn % 2 === 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(fr, firstRoot) && equal(sr, secondRoot);
}

// "<name>+<key id hex>+<base64(type ‖ public key)>"; the id must match name and key. The
// type byte is 0x01 for a log's key, 0x04 for a witness's cosigner key.
export async function parseVerifierKey(text, type = 1) {
  const [name, hex, encoded] = splitTwice(text.trim(), "+");
  if (!name || !/^[0-9a-f]{8}$/.test(hex || "")) throw new Error("not a verifier key");
  const material = fromBase64(encoded);
  if (material.length !== 33 || material[0] !== type) throw new Error("not an Ed25519 key");
  const publicKey = material.slice(1);
  const id = (await sha256(concat(encoder.encode(name), new Uint8Array([10, type]),
    publicKey))).slice(0, 4);
  if (hexOf(id) !== hex) throw new Error("the key's id does not match its name and key");
  return { name, id, publicKey };
}

function splitTwice(text, separator) {
  const first = text.indexOf(separator);
  const second = text.indexOf(separator, first + 1);
  if (first < 0 || second < 0) return [];
  return [text.slice(0, first), text.slice(first + 1, second), text.slice(second + 1)];
}

function hexOf(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// A signed note's text and the signature `key` put on it (`length` bytes, its key id
// first). Other keys' signatures are passed over: after a rotation of the log's key a
// checkpoint is signed by the new key and co-signed by the old, under the same name, and
// witnesses add their own.
function signatureBy(note, key, length) {
  const cut = note.lastIndexOf("\n\n");
  if (cut < 0 || !note.endsWith("\n")) throw new Error("not a signed note");
  const text = note.slice(0, cut + 1);
  const lines = note.slice(cut + 2, -1).split("\n");
  const prefix = `\u2014 ${key.name} `;
  const signature = lines.filter((l) => l.startsWith(prefix))
    .map((l) => { try { return fromBase64(l.slice(prefix.length)); } catch { return null; } })
    .find((s) => s && s.length === length && equal(s.slice(0, 4), key.id));
  return { text, signature };
}

async function verified(key, signature, message) {
  const publicKey = await crypto.subtle.importKey("raw", key.publicKey, { name: "Ed25519" },
    false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, publicKey, signature, message);
}

// A signed note's text, once the key's signature over it verifies.
async function signedText(note, key) {
  const { text, signature } = signatureBy(note, key, 68);
  if (!signature) throw new Error(`no signature by ${key.name}`);
  if (!await verified(key, signature.slice(4), encoder.encode(text))) {
    throw new Error("the checkpoint's signature does not verify");
  }
  return text;
}

// C2SP tlog-cosignature/v1: the witness signed "cosignature/v1", the time (the 8 bytes
// after the key id) and the checkpoint's text, saying it was the largest consistent
// checkpoint of that log it had seen.
export async function checkCosignature(note, witnessKey) {
  const { text, signature } = signatureBy(note, witnessKey, 76);
  if (!signature) throw new Error(`no cosignature by ${witnessKey.name}`);
  const time = new DataView(signature.buffer, signature.byteOffset + 4, 8).getBigUint64(0);
  const message = encoder.encode(`cosignature/v1\ntime ${time}\n${text}`);
  if (time === 0n || !await verified(witnessKey, signature.slice(12), message)) {
    throw new Error(`the cosignature of ${witnessKey.name} does not verify`);
  }
}

// The checkpoint in a signed note, once the pinned key's signature over it verifies.
export async function checkCheckpoint(note, key) {
  const text = await signedText(note, key);
  const [origin, size, root] = text.split("\n");
  if (origin !== key.name) throw new Error(`the checkpoint is of another log (${origin})`);
  return { origin, treeSize: Number(size), rootHash: fromBase64(root) };
}

// The key a rotation note signed by `key` hands its log over to, or null when the note is
// not one (another key's, another log's, altered).
async function successorOf(key, note) {
  let lines;
  try { lines = (await signedText(note, key)).split("\n"); } catch { return null; }
  if (lines.length !== 4 || lines[0] !== key.name || lines[1] !== "key rotation") return null;
  const next = await parseVerifierKey(lines[2]).catch(() => null);
  return next && next.name === key.name && !equal(next.publicKey, key.publicKey) ? next : null;
}

// The keys the log went to from `key`, oldest first, each named in a rotation note
// (GET /log/key's previous_keys[].rotation) signed by the key before it. Following them
// trusts no one new: whoever could forge such a note could sign checkpoints with the key.
export async function successors(key, notes) {
  const chain = [];
  let current = key;
  while (chain.length < notes.length) {  // no chain is longer than the notes
    let next = null;
    for (const note of notes) if ((next = await successorOf(current, note))) break;
    if (!next || [key, ...chain].some((k) => equal(k.publicKey, next.publicKey))) break;
    chain.push(next);
    current = next;
  }
  return chain;
}

// The whole check of a proof as GET /events/{id}/proof returns it. A link made before the
// log's key was rotated pins the old key: `rotations` lead it to the key that signs now.
// With `witnessKeys` (the link's), every one of those witnesses must have cosigned the
// checkpoint (a proof asked for with ?witnesses=N); their names come back as `cosignedBy`.
export async function verifyProof(proof, verifierKey, rotations = [], witnessKeys = []) {
  const pinned = await parseVerifierKey(verifierKey);
  let checkpoint;
  try {
    checkpoint = await checkCheckpoint(proof.checkpoint, pinned);
  } catch (error) {
    checkpoint = null;
    for (const key of (await successors(pinned, rotations)).reverse()) {
      checkpoint = await checkCheckpoint(proof.checkpoint, key).catch(() => null);
      if (checkpoint) break;
    }
    if (!checkpoint) throw error;
  }
  const root = fromBase64(proof.root_hash);
  if (checkpoint.treeSize !== proof.tree_size || !equal(checkpoint.rootHash, root)) {
    throw new Error("the proof's tree is not the signed one");
  }
  const path = proof.inclusion_path.map(fromBase64);
  if (!await verifyInclusion(proof.leaf_index, proof.tree_size, fromBase64(proof.leaf_hash),
    path, root)) {
    throw new Error("the event is not in the signed tree where the proof says");
  }
  const cosignedBy = [];
  for (const text of witnessKeys) {
    const witness = await parseVerifierKey(text, 4);
    await checkCosignature(proof.checkpoint, witness);
    cosignedBy.push(witness.name);
  }
  return { ...checkpoint, cosignedBy };
}
