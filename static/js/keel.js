// Small behaviours that every screen shares. No inline scripts anywhere (the CSP forbids them).
document.addEventListener("click", function (event) {
  const trigger = event.target.closest("a[data-confirm], button[data-confirm], input[data-confirm]");
  if (trigger && !window.confirm(trigger.getAttribute("data-confirm"))) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

document.addEventListener("submit", function (event) {
  const form = event.target;
  if (form.hasAttribute("data-confirm") && !window.confirm(form.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
}, true);

// Scan-first screens: keep the cursor in the scan box so a keyboard-wedge scanner always lands there.
// A box that already has the cursor is left alone: selecting it again would let the next
// keystrokes of a fast scanner overwrite the ones it has already typed.
function focusScanInput() {
  const input = document.querySelector("[data-autofocus]");
  if (input && document.activeElement !== input) { input.focus(); input.select && input.select(); }
}
document.addEventListener("DOMContentLoaded", focusScanInput);
document.addEventListener("htmx:afterSettle", focusScanInput);

// Auto-submit filters when a select changes.
document.addEventListener("change", function (event) {
  if (event.target.matches("[data-autosubmit]")) { event.target.form.requestSubmit(); }
});
