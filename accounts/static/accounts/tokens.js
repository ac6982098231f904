// The API tokens page (accounts/settings_tokens.html). Without it everything still works:
// "Revoke…" opens a page that asks first, and a new key selects whole on a click.
(function () {
  "use strict";

  // --- Copy a new key: the clipboard where the browser allows it (secure contexts), else
  // the key is selected so that Ctrl+C / the long-press menu copies it.
  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var status = button.parentNode.querySelector("[data-copy-status]");
    if (!source) return;
    button.hidden = false;
    var reset;

    function say(text, copied) {
      status.textContent = text;
      button.textContent = copied ? "Copied" : "Copy";
      button.classList.toggle("is-copied", copied);
      window.clearTimeout(reset);
      if (copied) {
        // The button goes back to "Copy" (another copy is always possible); the status
        // line keeps saying that it was copied.
        reset = window.setTimeout(function () { button.textContent = "Copy"; button.classList.remove("is-copied"); }, 4000);
      }
    }

    function fallback() {
      selectText(source);
      say("Selected: press Ctrl+C (⌘C on a Mac) to copy it.", false);
    }

    button.addEventListener("click", function () {
      var key = source.textContent.trim();
      if (!navigator.clipboard || !window.isSecureContext) { fallback(); return; }
      navigator.clipboard.writeText(key).then(
        function () { say("Copied to the clipboard.", true); },
        fallback
      );
    });
  });

  // --- Revoke: ask in a dialog rather than on a page of its own.
  var dialog = document.getElementById("revoke-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return;
  var form = dialog.querySelector("[data-revoke-form]");
  var name = dialog.querySelector("[data-revoke-name]");
  var opener = null;

  document.querySelectorAll("[data-revoke-token]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      opener = link;
      form.action = link.href;
      name.textContent = link.getAttribute("data-token-name");
      dialog.showModal();
    });
  });
  dialog.querySelector("[data-revoke-cancel]").addEventListener("click", function () {
    dialog.close();
  });
  dialog.addEventListener("close", function () {
    if (opener) opener.focus();
  });
})();
