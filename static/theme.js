// Loaded before the stylesheet applies, so a remembered theme shows without a flash of the other one.
(() => {
  const root = document.documentElement;
  const saved = localStorage.getItem("admin-theme");
  if (saved === "light" || saved === "dark") root.dataset.theme = saved;
  const next = { auto: "light", light: "dark", dark: "auto" };
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-theme-toggle]");
    if (!button) return;
    const choice = next[root.dataset.theme || "auto"];
    if (choice === "auto") {
      delete root.dataset.theme;
      localStorage.removeItem("admin-theme");
    } else {
      root.dataset.theme = choice;
      localStorage.setItem("admin-theme", choice);
    }
    button.querySelector("span").textContent = choice;
  });
  document.addEventListener("DOMContentLoaded", () => {
    const label = document.querySelector("[data-theme-toggle] span");
    if (label) label.textContent = root.dataset.theme || "auto";
  });
})();
