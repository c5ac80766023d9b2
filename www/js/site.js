// fiberhttp's site script: a table of contents, the time the page was loaded,
// and a HEAD request that shows which server answered. Plain DOM, no build step.
"use strict";

/** Fills nav.toc with links to the h2 headings of <main>, giving them ids when needed. */
function buildToc() {
  const nav = document.querySelector("nav.toc");
  if (!nav) return 0;
  const headings = Array.from(document.querySelectorAll("main h2"));
  if (headings.length < 2) return 0;
  const title = document.createElement("h2");
  title.textContent = "On this page";
  const list = document.createElement("ol");
  for (const heading of headings) {
    if (!heading.id) {
      heading.id = heading.textContent
        .trim()
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")
        .replace(/^-|-$/g, "");
    }
    const link = document.createElement("a");
    link.href = "#" + heading.id;
    link.textContent = heading.textContent;
    const item = document.createElement("li");
    item.append(link);
    list.append(item);
  }
  nav.append(title, list);
  return headings.length;
}

/** Shows when the page was loaded (so a reload is visible). */
function stampLoadTime() {
  const slot = document.getElementById("loaded-at");
  if (!slot) return;
  const now = new Date();
  slot.textContent = now.toTimeString().slice(0, 8);
  slot.setAttribute("datetime", now.toISOString());
}

/** Asks the server about this page with HEAD and shows its Server header and validators. */
async function probeServer() {
  const slot = document.getElementById("served-by");
  if (!slot) return;
  try {
    const response = await fetch(location.pathname, { method: "HEAD", cache: "no-store" });
    // reading the (empty) body lets the request complete; left unread, Chromium aborts it
    await response.arrayBuffer();
    const server = response.headers.get("server") || "an unnamed server";
    const etag = response.headers.get("etag");
    slot.textContent = server + " (HEAD " + response.status + (etag ? ", ETag " + etag : "") + ")";
    document.documentElement.dataset.probe = "done";
  } catch (error) {
    slot.textContent = "unknown (" + error.message + ")";
    document.documentElement.dataset.probe = "failed";
  }
}

const entries = buildToc();
stampLoadTime();
// marks the page for the browser test (and for CSS, should it want to know)
document.documentElement.dataset.js = "ready";
document.documentElement.dataset.tocEntries = String(entries);
probeServer();
