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

document.querySelectorAll("input[data-suggest]").forEach(suggestContacts);
document.querySelectorAll("input[type=file][data-preview]").forEach(previewFiles);
