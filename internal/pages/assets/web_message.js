// Hands an authorization response to the application that asked for it
// with response_mode=web_message: the window that framed this page (silent
// authentication) or opened it (a popup), and only at the application's
// origin, so no other page can read the tokens.
(function () {
  var el = document.getElementById("usher-web-message");
  if (!el) return;
  var target = window.opener || (window.parent !== window ? window.parent : null);
  if (!target) return;
  target.postMessage(JSON.parse(el.getAttribute("data-message")), el.getAttribute("data-origin"));
})();
