// The link in a mail ends in "#", so a template's "type=invite" or
// "type=reset" arrives in the fragment, which only the page can read.
(function () {
  var m = /(?:^|[#&])type=(invite|reset)(?:&|$)/.exec(window.location.hash);
  if (!m) return;
  var want = m[1];
  document.querySelectorAll('[data-experience]').forEach(function (el) {
    el.hidden = el.getAttribute('data-experience') !== want;
  });
  var field = document.querySelector('input[name=experience]');
  if (field) field.value = want;
  // The tab's title follows too when it is Usher's title for the other
  // experience (a tenant's page template keeps its own).
  var shown = document.querySelector('[data-experience="' + want + '"][data-title]');
  var other = document.querySelector('[data-experience="' + (want === 'invite' ? 'reset' : 'invite') + '"][data-title]');
  if (shown && other && document.title === other.getAttribute('data-title')) {
    document.title = shown.getAttribute('data-title');
  }
})();

// response_mode=form_post: the page posts the code to the application.
(function () {
  var form = document.querySelector('form[data-autosubmit]');
  if (form) form.submit();
})();
