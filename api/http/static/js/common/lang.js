// The language the user picked (the server renders each page, and the labels in its config, in it) and the
// words of the pages' scripts. The switch in the navigation bar goes back to the page as it is now: its
// filters live in the URL, which the scripts update, so the link is completed when it is followed.
import { getConfig } from "./config.js";

/** "zh" or "en". */
export function lang() { return getConfig().lang === "en" ? "en" : "zh"; }

/** A word of a page's script in the user's language: t("加载中…", "Loading…"). */
export function t(zh, en) { return lang() === "en" ? en : zh; }

const link = document.getElementById("rl-lang");
if (link) {
  link.addEventListener("click", () => {
    const target = new URL(link.href, window.location.href);
    target.searchParams.set("next", window.location.pathname + window.location.search);
    link.href = target.pathname + target.search;
  });
}
