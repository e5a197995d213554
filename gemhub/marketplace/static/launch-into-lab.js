/* gemhub marketplace: Launch into the JupyterLab tab the user already has open.
   A Launch link (a[data-gemhub-launch="<slug>"], data-gemhub-fresh="1" for a fresh
   copy) navigates to /hub/user-redirect/gemhub/launch/<slug>, which boots a whole
   new JupyterLab. When a Lab tab of this browser is open, its gemhub extension
   (workspace/labextension, protocol in src/channel.js) copies and opens the
   notebook itself: much faster, and no second Lab. This page asks who is open
   ("ping"; Labs also say "here" when they start and "gone" when they close), and
   only when one is does a click wait, at most WAIT_MS, for a Lab to accept.
   No Lab, no answer, or a failure: the link navigates as before. A separate file,
   no inline script: the pages' CSP is script-src 'self'. */
(function () {
  "use strict";
  // Repeated from workspace/labextension/src/channel.js (tests/user_env/test_labextension.py checks).
  var CHANNEL = "gemhub-launch";
  var WAIT_MS = 400;
  if (typeof BroadcastChannel === "undefined") return;

  var channel = new BroadcastChannel(CHANNEL);
  var labs = {};          // lab id -> true, the Lab tabs that said "here"
  var pending = {};       // launch id -> {accepted, timer, link}

  function anyLab() { return Object.keys(labs).length > 0; }

  function status(link, text) {
    var box = link.parentNode;
    var el = box.parentNode.querySelector(".launch-status");
    if (!el) {
      el = document.createElement("p");
      el.className = "actions__hint launch-status";
      el.setAttribute("role", "status");
      el.setAttribute("aria-live", "polite");
      box.parentNode.insertBefore(el, box.nextSibling);
    }
    el.textContent = text;
  }

  function navigate(id) {
    var launch = pending[id];
    if (!launch) return;
    delete pending[id];
    clearTimeout(launch.timer);
    window.location.assign(launch.link.href);
  }

  channel.onmessage = function (event) {
    var msg = event.data || {};
    if (msg.type === "here" && msg.lab) labs[msg.lab] = true;
    else if (msg.type === "gone" && msg.lab) delete labs[msg.lab];
    var launch = msg.id && pending[msg.id];
    if (!launch) return;
    if (msg.type === "accepted") {
      launch.accepted = true;
      clearTimeout(launch.timer);
      status(launch.link, "Opening in your JupyterLab tab…");
    } else if (msg.type === "launched") {
      delete pending[msg.id];
      status(launch.link, "Opened in your JupyterLab tab.");
    } else if (msg.type === "failed") {
      navigate(msg.id);  // the usual page, which explains what went wrong
    }
  };

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-gemhub-launch]");
    if (!link || !anyLab()) return;
    // A new tab or window asked for with a modifier or the middle button: the browser's business.
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey ||
        event.shiftKey || event.altKey) return;
    event.preventDefault();
    var id = Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
    pending[id] = {
      link: link,
      accepted: false,
      timer: setTimeout(function () { navigate(id); }, WAIT_MS)
    };
    channel.postMessage({
      type: "launch",
      slug: link.getAttribute("data-gemhub-launch"),
      fresh: link.getAttribute("data-gemhub-fresh") === "1",
      id: id
    });
  });

  channel.postMessage({ type: "ping" });
})();
