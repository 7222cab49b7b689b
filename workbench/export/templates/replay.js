// The player: a clock t (seconds on the shared time axis) and, for each lane, the last frame at or before t.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("wb-data").textContent);
  const scrub = document.getElementById("wb-scrub");
  const clock = document.getElementById("wb-clock");
  const speed = document.getElementById("wb-speed");
  const state = { t: 0, playing: false, last: null };
  const events = Array.from(new Set(data.lanes.flatMap((lane) => lane.frames.map((f) => f.t)))).sort((a, b) => a - b);

  function indexAt(frames, t) {
    let low = 0, high = frames.length - 1, found = 0;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (frames[middle].t <= t) { found = middle; low = middle + 1; } else { high = middle - 1; }
    }
    return found;
  }

  function row(name, value) {
    const tr = document.createElement("tr");
    for (const text of [name, value]) { const td = document.createElement("td"); td.textContent = text; tr.appendChild(td); }
    return tr;
  }

  function draw() {
    clock.textContent = state.t.toFixed(3) + " s";
    scrub.value = state.t;
    data.lanes.forEach((lane, number) => {
      const root = document.getElementById("wb-lane-" + number);
      const index = indexAt(lane.frames, state.t);
      const frame = lane.frames[index];
      if (root.dataset.frame === String(index) && root.dataset.drawn) { updateNumbers(root, lane, frame); return; }
      root.dataset.frame = String(index);
      root.dataset.drawn = "1";
      root.querySelector(".wb-label").textContent = frame.label;
      const tokens = root.querySelector(".wb-canvas-tokens");
      tokens.replaceChildren();
      for (const [word, style] of frame.chips || []) {
        const chip = document.createElement("span");
        chip.className = "wb-token";
        chip.setAttribute("style", data.styles[style]);
        chip.textContent = word.trim() ? word : "\u2423";
        tokens.appendChild(chip);
      }
      root.querySelector(".wb-text").textContent = frame.text;
      updateNumbers(root, lane, frame);
    });
  }

  function updateNumbers(root, lane, frame) {
    const at = Math.min(state.t, lane.frames[lane.frames.length - 1].t);
    const rate = frame.tokens && at > 0 ? (frame.tokens / at).toFixed(1) : "\u2013";
    const body = root.querySelector(".wb-numbers tbody");
    body.replaceChildren(
      row("time", at.toFixed(3) + " s"),
      row("tokens", frame.tokens === null ? "n/a (not recorded per chunk)" : String(frame.tokens)),
      row("tokens/s", rate),
    );
  }

  function seek(t) { state.t = Math.min(Math.max(t, 0), data.end_s); draw(); }

  function tick(now) {
    if (!state.playing) return;
    if (state.last !== null) seek(state.t + ((now - state.last) / 1000) * Number(speed.value));
    state.last = now;
    if (state.t >= data.end_s) { pause(); return; }
    requestAnimationFrame(tick);
  }

  function play() {
    if (state.t >= data.end_s) seek(0);
    state.playing = true; state.last = null; document.body.dataset.playing = "1";
    requestAnimationFrame(tick);
  }

  function pause() { state.playing = false; document.body.dataset.playing = "0"; }

  function step() {
    pause();
    const next = events.find((t) => t > state.t + 1e-9);
    seek(next === undefined ? data.end_s : next);
  }

  document.getElementById("wb-play").addEventListener("click", play);
  document.getElementById("wb-pause").addEventListener("click", pause);
  document.getElementById("wb-step").addEventListener("click", step);
  scrub.addEventListener("input", () => { pause(); seek(Number(scrub.value)); });
  window.wbReplay = { seek, play, pause, step, state, data };
  draw();
})();
