// Usher dashboard: small enhancements; every page works without them.
(function () {
  // On a phone the dashboard's links fold behind a menu button, a
  // disclosure: aria-expanded says whether the menu (aria-controls) shows.
  // Escape closes it and gives the focus back to the button.
  var menuButton = document.querySelector('.menu-button[aria-controls]');
  var menu = menuButton && document.getElementById(menuButton.getAttribute('aria-controls'));
  if (menu) {
    var setOpen = function (open) { menuButton.setAttribute('aria-expanded', open ? 'true' : 'false'); };
    menuButton.hidden = false;
    menuButton.parentElement.classList.add('has-menu');
    menuButton.addEventListener('click', function () {
      setOpen(menuButton.getAttribute('aria-expanded') !== 'true');
    });
    document.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && menuButton.getAttribute('aria-expanded') === 'true') {
        setOpen(false);
        menuButton.focus();
      }
    });
  }

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

  // A part of the page marked data-refresh (a running import) follows the
  // server: the page is fetched again every so many milliseconds and the
  // part replaced by its new copy, until the new copy is no longer marked.
  // Live regions elsewhere on the page (role=status) take their new text.
  // Without script, the page's <noscript> meta refresh reloads it instead.
  var live = document.querySelector('[data-refresh][id]');
  if (live && window.fetch && window.DOMParser && live.replaceChildren) {
    var every = parseInt(live.getAttribute('data-refresh'), 10) || 2000;
    var failures = 0;
    var poll = function () {
      fetch(window.location.href, { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'text/html' } })
        .then(function (resp) {
          if (resp.status >= 400 && resp.status < 500) return null; // refused or gone: stop asking
          if (!resp.ok) throw new Error('HTTP ' + resp.status);
          return resp.text();
        })
        .then(function (html) {
          if (html === null) return;
          var doc = new DOMParser().parseFromString(html, 'text/html');
          var next = doc.getElementById(live.id);
          if (!next) return; // not this page any more (signed out?): stop here
          failures = 0;
          document.querySelectorAll('[role=status][id]').forEach(function (el) {
            var fresh = doc.getElementById(el.id);
            if (fresh && fresh.textContent !== el.textContent) el.textContent = fresh.textContent;
          });
          live.replaceChildren.apply(live, Array.prototype.slice.call(next.childNodes).map(function (n) {
            return document.adoptNode(n);
          }));
          if (next.hasAttribute('data-refresh')) {
            setTimeout(poll, every);
          } else {
            live.removeAttribute('data-refresh');
          }
        })
        .catch(function () {
          failures++;
          setTimeout(poll, every * Math.min(failures + 1, 10)); // the server may be restarting
        });
    };
    setTimeout(poll, every);
  }
})();
