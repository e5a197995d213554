/* gemhub marketplace catalogue: search, tag facets and level filter.
   Works offline and from file://: the index is embedded in the page. */
(function () {
  "use strict";
  var dataEl = document.getElementById("gemhub-index");
  var list = document.getElementById("cards");
  if (!dataEl || !list) return;
  var notebooks = JSON.parse(dataEl.textContent || "[]");
  var cards = {};
  Array.prototype.forEach.call(list.querySelectorAll(".card[data-slug]"), function (card) {
    cards[card.getAttribute("data-slug")] = card;
  });
  var search = document.getElementById("search-input");
  var countEl = document.getElementById("result-count");
  var emptyEl = document.getElementById("empty");
  var clearBtn = document.getElementById("clear-filters");
  var facets = Array.prototype.slice.call(document.querySelectorAll(".facet[data-tag]"));
  var levelInputs = Array.prototype.slice.call(document.querySelectorAll('input[name="level"]'));
  var state = { q: "", level: "", tags: [] };

  function norm(text) {
    return String(text || "").toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "");
  }
  notebooks.forEach(function (nb) {
    nb._text = norm([nb.title, nb.description, (nb.tags || []).join(" "), nb.series || "", (nb.collections || []).join(" ")].join(" "));
    nb._tags = (nb.tags || []).map(norm);
  });

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
    emptyEl.hidden = shown !== 0;
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
    levelInputs.forEach(function (input) { input.checked = input.value === state.level; });
  }

  search.addEventListener("input", function () { state.q = search.value; apply(); });
  levelInputs.forEach(function (input) {
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
  function clearAll() {
    state = { q: "", level: "", tags: [] };
    search.value = "";
    levelInputs.forEach(function (input) { input.checked = input.value === ""; });
    apply();
    search.focus();
  }
  clearBtn.addEventListener("click", clearAll);
  Array.prototype.forEach.call(document.querySelectorAll("[data-clear]"), function (b) { b.addEventListener("click", clearAll); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && document.activeElement !== search && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) {
      event.preventDefault();
      search.focus();
    }
  });

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

  readHash();
  apply();
})();
