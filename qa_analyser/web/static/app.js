// qa serve: clicking a verdict, a missed item or a transcript turn plays the recording from that moment.
"use strict";
document.addEventListener("click", function (event) {
  var player = document.getElementById("player");
  if (!player) return;
  var target = event.target;
  // clicks inside a form (an override) or on a link do their own thing
  if (target.closest("form, a, select, input, textarea, summary")) return;
  var el = target.closest("[data-seek]");
  if (!el) return;
  var at = parseFloat(el.getAttribute("data-seek"));
  if (isNaN(at)) return;
  player.currentTime = at;
  var playing = player.play();
  if (playing && playing.catch) playing.catch(function () {});
  document.querySelectorAll(".current").forEach(function (c) { c.classList.remove("current"); });
  el.classList.add("current");
});
