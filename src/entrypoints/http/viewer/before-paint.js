// The page's colours, set before it paints so that a frame on a dark host never flashes
// white: light unless the link's host asked, in the URL's fragment, for `theme=dark`, or
// for `theme=auto` (the reader's own setting, followed as it changes). A classic script,
// not a module: modules run after the first paint.
{
  const asked = new URLSearchParams(location.hash.slice(1)).get("theme");
  const system = window.matchMedia("(prefers-color-scheme: dark)");
  const apply = () => {
    const dark = asked === "dark" || (asked === "auto" && system.matches);
    document.documentElement.dataset.theme = dark ? "dark" : "light";
  };
  apply();
  if (asked === "auto") system.addEventListener("change", apply);
}
