// The member's navigation (base.html): one <details> that is a "Menu" button on phones and
// an always-open row of links on wider screens. CSS alone shows the row in browsers that
// support ::details-content; setting `open` here covers the others, and keeps the
// disclosure's state honest for assistive technology. The class tells likeness.css that
// this ran, so the button may go on wide screens even where ::details-content is unknown
// (without this script such a browser keeps the button: the links stay one click away).
// On phones the menu closes again on Escape or a click elsewhere, as a menu button's
// popup is expected to.
(function () {
  "use strict";
  var menu = document.querySelector("[data-nav-menu]");
  if (!menu || !window.matchMedia) return;
  // Keep in step with the breakpoint in likeness.css.
  var wide = window.matchMedia("(min-width: 60rem)");

  function fit() { menu.open = wide.matches; }
  fit();
  menu.classList.add("nav-menu-scripted");
  wide.addEventListener("change", fit);

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || wide.matches || !menu.open) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });
  document.addEventListener("click", function (event) {
    if (!wide.matches && menu.open && !menu.contains(event.target)) menu.open = false;
  });
})();
