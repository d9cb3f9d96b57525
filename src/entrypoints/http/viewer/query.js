// What the page asks the API for: the search form's fields as §5.4 filters.

const FIELDS = ["action", "actor_id", "target_id", "metadata", "since", "until"];

export function searchFilters(form) {
  const filters = {};
  for (const name of FIELDS) {
    let value = (form[name] || "").trim();
    if (!value) continue;
    if (name === "metadata") {
      // "order_id=ord_7": a top-level key of the events' metadata and the value it holds.
      // Without "=", the API's answer says how to write one.
      const [key, ...rest] = value.split("=");
      if (rest.length) {
        filters[`metadata.${key.trim()}`] = rest.join("=").trim();
        continue;
      }
    }
    if (name === "action" && !value.endsWith(".*") && value.endsWith(".")) value += "*";
    if ((name === "since" || name === "until") && !value.includes("T")) {
      // A date, in the reader's zone; "until" takes in the whole day it names (the API's
      // until excludes its instant, so it is the next day's midnight).
      const midnight = new Date(`${value}T00:00:00`);
      if (name === "until") midnight.setDate(midnight.getDate() + 1);
      value = midnight.toISOString();
    }
    filters[name] = value;
  }
  return filters;
}

export function searchParams(form, cursor) {
  const params = new URLSearchParams({ limit: "50", order: "desc", ...searchFilters(form) });
  if (cursor) params.set("cursor", cursor);
  return params;
}

export function fragmentCredentials(hash) {
  const fragment = new URLSearchParams(hash.replace(/^#/, ""));
  return { token: fragment.get("token"), verifierKey: fragment.get("key"),
    witnessKeys: fragment.getAll("witness"), title: fragment.get("title"),
    exports: fragment.get("exports") === "1", language: fragment.get("lang") };
}
