// Drover's web UI script: keeps a page live and loads task logs. Pages are
// rendered by the agent; this only asks it again. Nothing is fetched from
// anywhere but the agent that served the page.
"use strict";

// The token the token page stored, sent to /v1 as X-Nomad-Token.
function token() {
  const m = document.cookie.match(/(?:^|;\s*)drover-token=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : "";
}

function headers() {
  const t = token();
  return t ? { "X-Nomad-Token": t } : {};
}

// live re-fetches the page's main section with a blocking query: the
// agent answers when what the page shows has changed (or after a minute),
// and the answer replaces the section. Errors back off and retry.
async function live(main) {
  const status = document.getElementById("live-status");
  let index = main.dataset.live;
  let delay = 500;
  for (;;) {
    const url = new URL(location.href);
    url.searchParams.set("live", "1");
    url.searchParams.set("index", index);
    try {
      const resp = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (resp.status === 404) {
        // What the page shows is gone (a purged job): nothing to wait for.
        if (status) status.textContent = "gone · this no longer exists";
        return;
      }
      if (!resp.ok) throw new Error(resp.status + " " + resp.statusText);
      const html = await resp.text();
      index = resp.headers.get("X-Nomad-Index") || index;
      main.innerHTML = html;
      main.dataset.live = index;
      loadLogs(main);
      if (status) status.textContent = "live · index " + index;
      delay = 500;
    } catch (err) {
      if (status) status.textContent = "reconnecting… (" + err.message + ")";
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10000);
    }
  }
}

// loadLogs fills each <pre data-logs> with the end of a task's log, read
// through the agent's /v1 API (which forwards to the client running it).
function loadLogs(root) {
  for (const pre of root.querySelectorAll("pre[data-logs]")) {
    fetch(pre.dataset.logs, { headers: headers(), credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(r.status + " " + r.statusText))))
      .then((text) => { pre.textContent = text || "(empty)"; pre.scrollTop = pre.scrollHeight; })
      .catch((err) => { pre.textContent = "logs unavailable: " + err.message; });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const main = document.getElementById("main");
  if (!main) return;
  loadLogs(main);
  if (main.dataset.live) live(main);
});
