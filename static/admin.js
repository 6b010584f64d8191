// The admin's small behaviours that htmx attributes alone do not cover. Every page works without this file.
(() => {
  "use strict";

  // Autocomplete: picking a result sets the hidden key (or adds a chip), shows the label, closes the list.
  const pick = (option) => {
    const widget = option.closest("[data-lookup]");
    const search = widget.querySelector("[data-lookup-search]");
    const results = widget.querySelector(".lookup-results");
    const { value, label } = option.dataset;
    if (widget.dataset.lookupChips) {
      const chips = document.querySelector(widget.dataset.lookupChips);
      const name = chips.previousElementSibling.name;
      if (![...chips.querySelectorAll("input")].some((input) => input.value === value)) {
        const chip = document.createElement("li");
        const hidden = Object.assign(document.createElement("input"), { type: "hidden", name, value });
        const remove = Object.assign(document.createElement("button"), { type: "button", textContent: "×" });
        remove.dataset.chipRemove = "";
        remove.setAttribute("aria-label", `Remove ${label}`);
        chip.append(hidden, `${label} `, remove);
        chips.append(chip);
      }
      search.value = "";
    } else {
      document.querySelector(widget.dataset.lookupValue).value = value;
      search.value = label;
    }
    results.replaceChildren();
    search.setAttribute("aria-expanded", "false");
    if (widget.dataset.lookupSubmit) {
      // The submit swaps the results (and this filter) anew. Focusing the search first would fire its lookup
      // (it looks up on focus) only for the swap to abort it: an htmx:sendAbort error in the console.
      htmx.trigger(document.querySelector(widget.dataset.lookupSubmit), "submit");
      return;
    }
    search.focus();
  };

  // Closed results stay closed until the search is typed in or focused again: a lookup still on its way (the
  // one focusing the search sends) must not open them again.
  const close = (results) => {
    const search = document.querySelector(`[aria-controls="${results.id}"]`);
    results.replaceChildren();
    if (search) {
      search.setAttribute("aria-expanded", "false");
      search.dataset.lookupClosed = "";
    }
  };
  const reopen = (event) => {
    if (event.target instanceof Element && event.target.matches("[data-lookup-search]")) {
      delete event.target.dataset.lookupClosed;
    }
  };
  document.addEventListener("input", reopen);
  document.addEventListener("focusin", reopen);
  document.addEventListener("htmx:beforeSwap", (event) => {
    const results = event.detail.target;
    if (!results?.matches?.(".lookup-results")) return;
    const search = document.querySelector(`[aria-controls="${results.id}"]`);
    if (search && "lookupClosed" in search.dataset) event.detail.shouldSwap = false;
  });

  document.addEventListener("click", (event) => {
    if (!(event.target instanceof Element)) return;
    // A click outside an autocomplete closes its results, as Escape does.
    document.querySelectorAll(".lookup-results:not(:empty)").forEach((results) => {
      if (!results.closest("[data-lookup]").contains(event.target)) close(results);
    });
    const option = event.target.closest("[data-lookup-option]");
    if (option) {
      event.preventDefault();
      pick(option);
      return;
    }
    const remove = event.target.closest("[data-chip-remove]");
    if (remove) {
      remove.closest("li").remove();
      return;
    }
    const all = event.target.closest("[data-select-page]");
    if (all) {
      document.querySelectorAll('input[name="ids"][form="bulk-form"]').forEach((box) => {
        box.checked = all.checked;
      });
    }
  });

  document.addEventListener("keydown", (event) => {
    if (!(event.target instanceof Element)) return;
    const search = event.target.closest("[data-lookup-search]");
    if (!search) return;
    const results = document.getElementById(search.getAttribute("aria-controls"));
    const options = [...results.querySelectorAll("[data-lookup-option]")];
    if (event.key === "Escape" && (options.length || search.classList.contains("htmx-request"))) {
      event.stopPropagation(); // close the list, not the row being edited
      close(results);
    } else if (event.key === "ArrowDown" && options.length) {
      event.preventDefault();
      options[0].focus();
    } else if (event.key === "Enter" && options.length === 1) {
      event.preventDefault();
      event.stopPropagation();
      pick(options[0]);
    }
  }, true);

  document.addEventListener("keydown", (event) => {
    if (!(event.target instanceof Element)) return;
    const option = event.target.closest("[data-lookup-option]");
    if (!option) return;
    const all = [...option.parentElement.querySelectorAll("[data-lookup-option]")];
    const index = all.indexOf(option);
    if (event.key === "ArrowDown" && index < all.length - 1) all[index + 1].focus();
    if (event.key === "ArrowUp") (index > 0 ? all[index - 1] : option.closest("[data-lookup]").querySelector("[data-lookup-search]")).focus();
    if (["ArrowDown", "ArrowUp"].includes(event.key)) event.preventDefault();
  });

  // Keyboard focus follows the row: back to its Edit link after Save or Cancel, to Undo after a delete.
  // After settling: until then the new row still wears the old one's classes.
  document.addEventListener("htmx:afterSettle", (event) => {
    const trigger = event.detail.requestConfig?.elt;
    const target = event.detail.target;
    if (!trigger || !target || target.tagName !== "TR" || !trigger.closest?.(".row-form, .row-confirm")) return;
    const row = document.getElementById(target.id);
    const focusable = row && !row.classList.contains("row-form") ? row.querySelector(".actions a") : null;
    (focusable || document.querySelector("#messages button"))?.focus();
  });

  // A long collection's list of linked records is swapped as it is searched and paged: the boxes ticked so far
  // move to the list of records to remove first, so that they are still posted.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const page = event.detail.target;
    if (!page?.matches?.("[data-links-linked]") || !event.detail.shouldSwap) return;
    const removing = document.querySelector(page.dataset.linksLinked);
    const kept = new Set([...removing.querySelectorAll("input:checked")].map((box) => box.value));
    page.querySelectorAll("input:checked").forEach((box) => {
      if (!kept.has(box.value)) removing.append(box.closest("li"));
    });
  });

  // A record ticked on an earlier page shows ticked where it is listed again, rather than twice.
  // (An outerHTML swap replaces its target: the new list is found by its attribute.)
  document.addEventListener("htmx:afterSwap", () => {
    document.querySelectorAll("[data-links-linked]").forEach((page) => {
      const removing = document.querySelector(page.dataset.linksLinked);
      page.querySelectorAll('input[type="checkbox"]').forEach((box) => {
        const pending = [...removing.querySelectorAll("input:checked")].find((other) => other.value === box.value);
        if (pending) {
          box.checked = true;
          pending.closest("li").remove();
        }
      });
    });
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    const results = event.detail.target?.closest?.(".lookup-results");
    if (results) {
      const search = document.querySelector(`[aria-controls="${results.id}"]`);
      search?.setAttribute("aria-expanded", results.children.length ? "true" : "false");
    }
  });
})();
