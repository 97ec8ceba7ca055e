// Runs before the first paint (a classic, blocking script from 'self'): applies the saved
// theme so a dark-theme user never sees a light flash. Only the preference is stored.
(function () {
  var pref = null;
  try {
    pref = localStorage.getItem("keywarden.theme");
  } catch (e) {}
  var dark = pref === "dark" || (pref !== "light" && window.matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
})();
