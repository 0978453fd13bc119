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

// Show-password toggles: each button shows or hides the field it controls.
// They start hidden, so that a page without this script offers none.
(function () {
  document.querySelectorAll('button.reveal[aria-controls]').forEach(function (button) {
    var field = document.getElementById(button.getAttribute('aria-controls'));
    if (!field) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      var show = field.type === 'password';
      field.type = show ? 'text' : 'password';
      button.setAttribute('aria-pressed', show ? 'true' : 'false');
    });
  });
})();

// The password policy ticks its rules as the person types. The server
// checks the password again: this only helps to choose one.
(function () {
  document.querySelectorAll('[data-policy]').forEach(function (policy) {
    var field = document.getElementById(policy.getAttribute('data-for'));
    if (!field) return;
    var min = parseInt(policy.getAttribute('data-min'), 10) || 1;
    policy.classList.add('live');
    function check() {
      var pw = field.value;
      var chars = Array.from(pw);
      var met = {
        length: chars.length >= min,
        lower: /\p{Ll}/u.test(pw),
        upper: /\p{Lu}/u.test(pw),
        digit: /\p{Nd}/u.test(pw),
        special: chars.some(function (c) { return !/[\p{Ll}\p{Lu}\p{Nd}]/u.test(c); }),
        run: pw !== '' && !/(.)\1\1/u.test(pw)
      };
      met.three = [met.lower, met.upper, met.digit, met.special].filter(Boolean).length >= 3;
      policy.querySelectorAll('[data-rule]').forEach(function (rule) {
        var ok = pw !== '' && met[rule.getAttribute('data-rule')];
        rule.classList.toggle('met', !!ok);
      });
    }
    field.addEventListener('input', check);
    check();
  });
})();
