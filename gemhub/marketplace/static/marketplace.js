/* gemhub marketplace catalogue: search, tag facets and level filter.
   Works offline and from file://: the index is embedded in the page.
   Served by the hub, the page also follows the background curation: it polls the
   status API (data-status-url) and, when what it shows changed, fetches itself again
   and swaps in #catalogue-live (cards, filters, banner, failures, embedded index),
   keeping the search and filters as they were. */
(function () {
  "use strict";
  var search = document.getElementById("search-input");
  if (!search || !document.getElementById("catalogue-live")) return;
  var countEl = document.getElementById("result-count");
  var state = { q: "", level: "", tags: [] };
  // Bound to the current #catalogue-live by setup(), again after every swap.
  var notebooks = [], cards = {}, pendingCards = [], facets = [], levelInputs = [], emptyEl, clearBtn;

  function norm(text) {
    return String(text || "").toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "");
  }
  function all(selector) { return Array.prototype.slice.call(document.querySelectorAll(selector)); }

  function setup() {
    var dataEl = document.getElementById("gemhub-index");
    notebooks = JSON.parse((dataEl && dataEl.textContent) || "[]");
    notebooks.forEach(function (nb) {
      nb._text = norm([nb.title, nb.description, (nb.tags || []).join(" "), nb.series || "", (nb.collections || []).join(" ")].join(" "));
      nb._tags = (nb.tags || []).map(norm);
    });
    cards = {};
    all("#cards .card[data-slug]").forEach(function (card) { cards[card.getAttribute("data-slug")] = card; });
    pendingCards = all("#cards .card[data-pending-slug]");
    countEl = document.getElementById("result-count");
    emptyEl = document.getElementById("empty");
    clearBtn = document.getElementById("clear-filters");
    facets = all(".facet[data-tag]");
    levelInputs = all('input[name="level"]');

    levelInputs.forEach(function (input) {
      input.checked = input.value === state.level;
      input.addEventListener("change", function () { if (input.checked) { state.level = input.value; apply(); } });
    });
    facets.forEach(function (btn) {
      btn.addEventListener("click", function () {
        var tag = btn.getAttribute("data-tag");
        var i = state.tags.indexOf(tag);
        if (i === -1) state.tags.push(tag); else state.tags.splice(i, 1);
        apply();
      });
    });
    clearBtn.addEventListener("click", clearAll);
    all("[data-clear]").forEach(function (b) { b.addEventListener("click", clearAll); });

    var moreTags = document.getElementById("more-tags");
    var facetBox = document.querySelector(".tag-facets");
    if (moreTags && facetBox) {
      var label = moreTags.textContent;
      var setCollapsed = function (collapsed) {
        facetBox.classList.toggle("collapsed", collapsed);
        moreTags.setAttribute("aria-expanded", collapsed ? "false" : "true");
        moreTags.textContent = collapsed ? label : "Show fewer tags";
      };
      moreTags.hidden = false;
      setCollapsed(true);
      moreTags.addEventListener("click", function () { setCollapsed(!facetBox.classList.contains("collapsed")); });
    }
  }

  function matchesText(nb) {
    var words = norm(state.q).split(/\s+/).filter(Boolean);
    return words.every(function (w) { return nb._text.indexOf(w) !== -1; });
  }
  function matchesTags(nb, except) {
    return state.tags.every(function (t) { return t === except || nb._tags.indexOf(norm(t)) !== -1; });
  }
  function matchesLevel(nb) { return !state.level || nb.level === state.level; }

  function apply() {
    var shown = 0;
    notebooks.forEach(function (nb) {
      var ok = matchesText(nb) && matchesLevel(nb) && matchesTags(nb);
      if (cards[nb.slug]) cards[nb.slug].hidden = !ok;
      if (ok) shown += 1;
    });
    // Notebooks still being tested have only a title: they match a search, never a level or tag.
    pendingCards.forEach(function (card) {
      var title = card.querySelector(".card__title");
      card.hidden = Boolean(state.level || state.tags.length) || !matchesText({ _text: norm(title && title.textContent) });
    });
    // Facet counts: how many results each choice would give with the other filters kept.
    facets.forEach(function (btn) {
      var tag = btn.getAttribute("data-tag");
      var active = state.tags.indexOf(tag) !== -1;
      var n = notebooks.filter(function (nb) {
        return matchesText(nb) && matchesLevel(nb) && matchesTags(nb) && nb._tags.indexOf(norm(tag)) !== -1;
      }).length;
      btn.setAttribute("aria-pressed", active ? "true" : "false");
      btn.querySelector(".count").textContent = n;
      btn.classList.toggle("facet--empty", n === 0 && !active);
    });
    levelInputs.forEach(function (input) {
      var count = input.parentNode.querySelector("[data-level-count]");
      if (!count) return;
      var level = input.value;
      count.textContent = notebooks.filter(function (nb) {
        return matchesText(nb) && matchesTags(nb) && (!level || nb.level === level);
      }).length;
    });
    countEl.textContent = shown === notebooks.length && !isFiltered()
      ? notebooks.length + " notebook" + (notebooks.length === 1 ? "" : "s")
      : shown + " of " + notebooks.length + " notebook" + (notebooks.length === 1 ? "" : "s");
    emptyEl.hidden = shown !== 0 || !isFiltered();  // an empty catalogue says so itself (#nothing-yet)
    clearBtn.hidden = !isFiltered();
    writeHash();
  }
  function isFiltered() { return Boolean(state.q || state.level || state.tags.length); }

  function writeHash() {
    var parts = [];
    if (state.q) parts.push("q=" + encodeURIComponent(state.q));
    if (state.level) parts.push("level=" + encodeURIComponent(state.level));
    state.tags.forEach(function (t) { parts.push("tag=" + encodeURIComponent(t)); });
    var hash = parts.length ? "#" + parts.join("&") : "";
    if (hash !== location.hash && history.replaceState) {
      try { history.replaceState(null, "", hash || location.pathname + location.search); } catch (e) { /* file:// in some browsers */ }
    }
  }
  function readHash() {
    state = { q: "", level: "", tags: [] };
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var kv = part.split("=");
      var value = "";
      try { value = decodeURIComponent(kv[1] || ""); } catch (e) { return; }
      if (kv[0] === "q") state.q = value;
      else if (kv[0] === "level") state.level = value;
      else if (kv[0] === "tag" && value) state.tags.push(value);
    });
    search.value = state.q;
  }

  function clearAll() {
    state = { q: "", level: "", tags: [] };
    search.value = "";
    levelInputs.forEach(function (input) { input.checked = input.value === ""; });
    apply();
    search.focus();
  }

  search.addEventListener("input", function () { state.q = search.value; apply(); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && document.activeElement !== search && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) {
      event.preventDefault();
      search.focus();
    }
  });

  readHash();
  setup();
  apply();

  // -- following the curation (only where the hub serves the page) -----------------------------
  var POLL_MS = 2000, RETRY_MS = 10000, MAX_FAILURES = 30;
  var statusUrl = document.getElementById("catalogue-live").getAttribute("data-status-url");
  var failures = 0;

  // JupyterHub takes the service's login cookie on a script's request only with its xsrf token.
  function request(url, accept) {
    var live = document.getElementById("catalogue-live");
    return fetch(url, { credentials: "same-origin", cache: "no-store", redirect: "error",
                        headers: { Accept: accept, "X-XSRFToken": live.getAttribute("data-xsrf") || "" } });
  }
  function refresh() {
    return request(location.pathname + location.search, "text/html")
      .then(function (response) {
        if (!response.ok) throw new Error("catalogue page: HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("catalogue-live");
        var current = document.getElementById("catalogue-live");
        if (!fresh) throw new Error("catalogue page without #catalogue-live");
        current.parentNode.replaceChild(document.importNode(fresh, true), current);
        setup();
        apply();
      });
  }
  function poll() {
    request(statusUrl, "application/json")
      .then(function (response) {
        if (!response.ok) throw new Error("status: HTTP " + response.status);
        return response.json();
      })
      .then(function (status) {
        var shown = document.getElementById("catalogue-live").getAttribute("data-version");
        return (status.version === shown ? Promise.resolve() : refresh()).then(function () { return status; });
      })
      .then(function (status) {
        failures = 0;
        if (status.running) setTimeout(poll, POLL_MS);  // finished: the page now shows the end state
      })
      .catch(function () {
        failures += 1;  // a hub restarting, a login expiring: try again, not forever
        if (failures < MAX_FAILURES) setTimeout(poll, RETRY_MS);
      });
  }
  if (statusUrl && window.fetch && window.DOMParser) setTimeout(poll, POLL_MS);
})();
