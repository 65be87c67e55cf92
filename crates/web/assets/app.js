// Small enhancements; every page works without them.
"use strict";

// Contact suggestions: an input with data-suggest gets a native <datalist> filled from
// /contacts/suggestions as the person types; choosing a suggestion puts the contact's id in
// the hidden field named by data-suggest, so a homonym is never picked by mistake.
function suggestContacts(input) {
  const hidden = input.form.querySelector('input[type=hidden][name="' + input.dataset.suggest + '"]');
  const list = document.createElement("datalist");
  list.id = input.id + "-suggestions";
  input.after(list);
  input.setAttribute("list", list.id);
  let timer = 0;
  let byLabel = new Map();
  const choose = () => {
    if (hidden) hidden.value = byLabel.get(input.value) || "";
  };
  input.addEventListener("input", () => {
    choose();
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < 2 || byLabel.has(input.value)) return;
    timer = setTimeout(async () => {
      try {
        const response = await fetch("/contacts/suggestions?q=" + encodeURIComponent(q), {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        if (!response.ok) return;
        const found = await response.json();
        byLabel = new Map(found.map((c) => [c.label, c.id]));
        list.replaceChildren(...found.map((c) => {
          const option = document.createElement("option");
          option.value = c.label;
          return option;
        }));
        choose();
      } catch (_) {
        // Offline or slow link: typing a name still works, the server resolves it.
      }
    }, 150);
  });
}

// Chosen scans are listed (and images shown) before the letter is saved.
function previewFiles(input) {
  const out = document.createElement("ul");
  out.className = "previews";
  out.setAttribute("aria-live", "polite");
  input.after(out);
  input.addEventListener("change", () => {
    out.replaceChildren(...Array.from(input.files).map((file) => {
      const li = document.createElement("li");
      if (file.type.startsWith("image/")) {
        const img = document.createElement("img");
        img.src = URL.createObjectURL(file);
        img.alt = "Aperçu de " + file.name;
        li.append(img);
      }
      li.append(file.name + " (" + Math.max(1, Math.round(file.size / 1024)) + " Ko)");
      return li;
    }));
  });
}

// A chosen scan is read by the server (its text layer or OCR) for the letter's subject,
// sender and date: the fields still empty are filled and marked, for the person to check.
// Anything typed meanwhile is kept; without the script, or when nothing is read, the form
// is filled by hand as before.
function readScan(input) {
  const form = input.form;
  const said = document.createElement("p");
  said.className = "hint read-from-scan";
  said.setAttribute("aria-live", "polite");
  input.parentElement.append(said);
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    const body = new FormData();
    body.append("csrf", form.elements.csrf.value);
    body.append("files", file);
    said.textContent = "Lecture du document…";
    try {
      const response = await fetch(input.dataset.read, { method: "POST", body, credentials: "same-origin" });
      const read = response.ok ? await response.json() : {};
      const filled = [];
      for (const [name, label] of [["subject", "l'objet"], ["sender", "l'expéditeur"], ["letter_date", "la date du courrier"]]) {
        const field = form.elements[name];
        if (read[name] && field && !field.value) {
          field.value = read[name];
          field.classList.add("from-scan");
          filled.push(label);
        }
      }
      said.textContent = filled.length
        ? "Lu dans le document : " + filled.join(", ") + ". Vérifiez avant d'enregistrer."
        : "";
    } catch (_) {
      said.textContent = "";
    }
  });
}

document.querySelectorAll("input[data-suggest]").forEach(suggestContacts);
document.querySelectorAll("input[type=file][data-read]").forEach(readScan);
document.querySelectorAll("input[type=file][data-preview]").forEach(previewFiles);

// Reply templates: typing "::" in a text area that lists variables opens a list of them;
// arrows choose, Enter or Tab inserts "{{name}}", Escape closes. Without script, the page
// lists the variables to type by hand.
function variablePicker(area) {
  const names = area.dataset.variables.split(" ").filter(Boolean);
  const list = document.createElement("ul");
  list.id = area.id + "-variables";
  list.className = "picker";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Variables");
  list.hidden = true;
  area.after(list);
  area.setAttribute("aria-controls", list.id);
  let start = -1;
  let active = 0;
  const shown = () => Array.from(list.children);
  const close = () => { list.hidden = true; start = -1; area.removeAttribute("aria-activedescendant"); };
  const mark = () => shown().forEach((li, i) => {
    li.setAttribute("aria-selected", i === active ? "true" : "false");
    if (i === active) area.setAttribute("aria-activedescendant", li.id);
  });
  const insert = (name) => {
    const end = area.selectionStart;
    area.setRangeText("{{" + name + "}}", start, end, "end");
    close();
    area.focus();
  };
  area.addEventListener("input", () => {
    const pos = area.selectionStart;
    const before = area.value.slice(0, pos);
    const at = before.lastIndexOf("::");
    if (at < 0 || /\s/.test(before.slice(at + 2))) { close(); return; }
    start = at;
    const typed = before.slice(at + 2).toLowerCase();
    const matches = names.filter((n) => n.includes(typed)).slice(0, 8);
    if (!matches.length) { close(); return; }
    list.replaceChildren(...matches.map((n, i) => {
      const li = document.createElement("li");
      li.id = list.id + "-" + i;
      li.setAttribute("role", "option");
      li.textContent = n;
      li.addEventListener("mousedown", (e) => { e.preventDefault(); insert(n); });
      return li;
    }));
    active = 0;
    list.hidden = false;
    mark();
  });
  area.addEventListener("keydown", (e) => {
    if (list.hidden) return;
    const items = shown();
    if (e.key === "ArrowDown") { active = (active + 1) % items.length; mark(); e.preventDefault(); }
    else if (e.key === "ArrowUp") { active = (active + items.length - 1) % items.length; mark(); e.preventDefault(); }
    else if (e.key === "Enter" || e.key === "Tab") { insert(items[active].textContent); e.preventDefault(); }
    else if (e.key === "Escape") { close(); e.preventDefault(); }
  });
  area.addEventListener("blur", close);
}

document.querySelectorAll("textarea[data-variables]").forEach(variablePicker);

// "Annuler la signature": the seconds left, counted down; then the signature is final.
document.querySelectorAll("form[data-undo-seconds]").forEach((form) => {
  let left = Number(form.dataset.undoSeconds);
  const label = form.querySelector(".undo-left");
  const timer = setInterval(() => {
    left -= 1;
    if (left > 0) {
      label.textContent = left + (left > 1 ? " secondes" : " seconde");
      return;
    }
    clearInterval(timer);
    const done = document.createElement("p");
    done.className = "hint";
    done.textContent = "La signature est définitive.";
    form.replaceWith(done);
  }, 1000);
});

// The call sheet: a call ringing on this person's phone (the phone system's events,
// pushed by the server as server-sent events) shows a banner linking to the call form
// filled with the caller; it goes when the call is answered or ends. Without a script,
// the "À traiter" page lists the calls ringing.
// Only the tab in view listens (a browser opens few connections to one server over
// HTTP/1.1); a tab shown again hears at once of the calls ringing.
(function callSheet() {
  const main = document.querySelector("main");
  if (!main || !window.EventSource) return;
  let source = null;
  const close = () => { if (source) { source.close(); source = null; } };
  const open = () => {
    if (source) return;
    source = new EventSource("/appels/flux");
    listen(source);
  };
  document.addEventListener("visibilitychange", () => (document.hidden ? close() : open()));
  window.addEventListener("pagehide", close);
  if (!document.hidden) open();
})();

function listen(source) {
  const main = document.querySelector("main");
  source.addEventListener("appel", (e) => {
    const call = JSON.parse(e.data);
    const id = "appel-" + call.id;
    let banner = document.getElementById(id);
    if (!banner) {
      banner = document.createElement("div");
      banner.id = id;
      banner.className = "alert call-sheet";
      banner.setAttribute("role", "alert");
      main.prepend(banner);
    }
    const link = document.createElement("a");
    link.href = call.url;
    link.textContent = call.label + " — ouvrir la fiche d'appel";
    banner.replaceChildren(link);
  });
  source.addEventListener("appel-fini", (e) => {
    const banner = document.getElementById("appel-" + JSON.parse(e.data).id);
    if (banner) banner.remove();
  });
}
