// What must be settled before the page first paints, read from the link's fragment. A
// classic script, not a module: modules run after the first paint.
//
// Its colours, so that a frame on a dark host never flashes white: light unless the host
// asked for `theme=dark`, or for `theme=auto` (the reader's own setting, followed as it
// changes).
//
// Its language: a page asked for in a language other than English (`lang=`) stays
// hidden until viewer.js has put its words in that language, rather than showing English
// for a moment; the style sheet shows it after a second whatever happens, should that
// script not run.
{
  const fragment = new URLSearchParams(location.hash.slice(1));
  const asked = fragment.get("theme");
  const system = window.matchMedia("(prefers-color-scheme: dark)");
  const apply = () => {
    const dark = asked === "dark" || (asked === "auto" && system.matches);
    document.documentElement.dataset.theme = dark ? "dark" : "light";
  };
  apply();
  if (asked === "auto") system.addEventListener("change", apply);
  const language = fragment.get("lang");
  if (language && language !== "en") document.documentElement.dataset.translating = "";
}
