// Usher dashboard: small enhancements; every page works without them.
(function () {
  // A form with data-confirm asks first (block, delete, revoke …).
  document.querySelectorAll('form[data-confirm]').forEach(function (form) {
    form.addEventListener('submit', function (e) {
      if (!window.confirm(form.getAttribute('data-confirm'))) e.preventDefault();
    });
  });

  // A Copy button copies the link of the field it names.
  document.querySelectorAll('button[data-copy]').forEach(function (button) {
    button.addEventListener('click', function () {
      var field = document.getElementById(button.getAttribute('data-copy'));
      if (!field) return;
      field.select();
      var done = function () { button.textContent = 'Copied'; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand('copy'); done(); });
      } else {
        document.execCommand('copy');
        done();
      }
    });
  });

  // The template editor: the previews follow the text as it is typed.
  var form = document.getElementById('template-form');
  if (form && form.requestSubmit) {
    var invite = document.getElementById('preview-invite');
    var reset = document.getElementById('preview-reset');
    var timer = null;
    var refresh = function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        // A form has one planned navigation at a time: the reset preview is
        // asked for once the invitation preview has loaded.
        var frame = document.querySelector('iframe[name=preview-invite-frame]');
        var sent = false;
        var next = function () {
          frame.removeEventListener('load', next);
          if (!sent) { sent = true; form.requestSubmit(reset); }
        };
        frame.addEventListener('load', next);
        setTimeout(next, 2000);
        form.requestSubmit(invite);
      }, 400);
    };
    form.addEventListener('input', refresh);
  }
})();
