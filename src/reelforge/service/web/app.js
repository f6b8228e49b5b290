// reelforge web UI: submit a job, follow it live (SSE), watch it while it renders (HLS), edit scenes,
// and render a finished video again in this browser (the renderer bundle, /static/renderer.js).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const STAGES = [
  ["script", "Script"], ["narration", "Voice"], ["visuals", "Pictures"],
  ["audio", "Sound mix"], ["render", "Rendering"], ["mux", "Finish"],
];
const TERMINAL = new Set(["done", "failed", "cancelled"]);
const LAYOUTS = ["hero", "process", "comparison", "list", "stat", "phrase", "closing"];

const state = {
  token: localStorage.getItem("reelforge-token") || "",
  job: null, // the job shown (API view)
  es: null, // EventSource
  hls: null,
  playing: null, // "hls" | "mp4" | null
  storyboard: null, // as loaded
  edits: new Map(), // scene index -> {narration, visual, plan?}
  refreshTimer: null,
  browser: { busy: false, jobId: null, url: null }, // the render in this browser
};

// ---- API --------------------------------------------------------------------------------------

function withToken(url) {
  if (!state.token) return url;
  return url + (url.includes("?") ? "&" : "?") + "access_token=" + encodeURIComponent(state.token);
}

function plainError(status, body) {
  if (status === 401) return "This server needs an API token. Enter it under “API token” and try again.";
  if (status === 413) return "That is too much text to send at once.";
  const d = body && body.detail;
  if (Array.isArray(d)) {
    return d.map((e) => {
      const loc = (e.loc || []).filter((p) => p !== "body").join(" › ");
      const msg = String(e.msg || "").replace(/^Value error, /, "");
      return loc ? `${loc}: ${msg}` : msg;
    }).join(" · ");
  }
  if (typeof d === "string") return d;
  return `The server answered ${status}.`;
}

async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = "Bearer " + state.token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new Error("Cannot reach the server. Is `reelforge serve` still running?");
  }
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    if (res.status === 401) $("#token-box").open = true;
    throw new Error(plainError(res.status, data));
  }
  return data;
}

function banner(msg) {
  const b = $("#banner");
  b.textContent = msg || "";
  b.hidden = !msg;
}

// ---- form -------------------------------------------------------------------------------------

function fmtDuration(s) {
  s = Math.round(s);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

async function loadVoices() {
  try {
    const data = await api("GET", "/v1/voices");
    const sel = $("#voice");
    for (const v of data.voices) {
      const o = document.createElement("option");
      o.value = v; o.textContent = v;
      sel.appendChild(o);
    }
    if (data.default) sel.querySelector('option[value=""]').textContent = `default (${data.default})`;
  } catch (e) { /* the default voice still works */ }
}

async function submit(ev) {
  ev.preventDefault();
  banner("");
  const f = ev.target;
  const body = {
    prompt: f.prompt.value,
    duration: Number(f.duration.value),
    style: f.style.value,
    aspect: f.aspect.value,
    resolution: f.resolution.value,
  };
  if (f.voice.value) body.voice = f.voice.value;
  const btn = $("#submit");
  btn.disabled = true;
  try {
    const job = await api("POST", "/v1/videos", body);
    await openJob(job.id);
    loadHistory();
    $("#job").scrollIntoView({ behavior: "smooth", block: "start" });
  } catch (e) {
    banner(e.message);
  } finally {
    btn.disabled = false;
  }
}

// ---- history ----------------------------------------------------------------------------------

async function loadHistory() {
  const ul = $("#history");
  let data;
  try { data = await api("GET", "/v1/videos?limit=30"); } catch (e) { banner(e.message); return; }
  ul.innerHTML = "";
  if (!data.jobs.length) {
    ul.innerHTML = '<li class="muted">No videos yet.</li>';
    return;
  }
  const batches = new Map(); // jobs that share a `batch` tag are listed together under one heading
  for (const j of data.jobs) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    if (state.job && state.job.id === j.id) b.classList.add("current");
    const t = document.createElement("span");
    t.className = "h-title";
    t.textContent = j.title || j.request.prompt;
    t.title = j.request.prompt;
    const s = document.createElement("span");
    s.className = `badge ${j.status}`;
    s.textContent = j.status;
    b.append(t, s);
    b.addEventListener("click", () => openJob(j.id));
    li.appendChild(b);
    if (!j.batch) {
      ul.appendChild(li);
      continue;
    }
    let group = batches.get(j.batch);
    if (!group) {
      const gli = document.createElement("li");
      gli.className = "h-batch";
      const head = document.createElement("div");
      head.className = "h-batch-head small";
      const name = document.createElement("span");
      name.className = "h-title";
      name.textContent = `Batch: ${j.batch}`;
      const count = document.createElement("span");
      count.className = "muted";
      head.append(name, count);
      const inner = document.createElement("ul");
      inner.className = "history";
      gli.append(head, inner);
      ul.appendChild(gli);
      group = { inner, count, total: 0, done: 0 };
      batches.set(j.batch, group);
    }
    group.total += 1;
    if (j.status === "done") group.done += 1;
    group.count.textContent = `${group.done}/${group.total} done`;
    group.inner.appendChild(li);
  }
}

// ---- one job ----------------------------------------------------------------------------------

function closeStream() {
  if (state.es) { state.es.close(); state.es = null; }
}

function resetPlayer() {
  if (state.hls) { state.hls.destroy(); state.hls = null; }
  const v = $("#player");
  v.removeAttribute("src");
  v.removeAttribute("poster");
  v.controls = false; // until there is something to play
  v.load();
  state.playing = null;
  $("#player-wait").hidden = false;
}

async function openJob(id) {
  closeStream();
  resetPlayer();
  if (state.browser.jobId !== id || !state.browser.busy) $("#browser-box").hidden = true;
  state.storyboard = null;
  state.edits.clear();
  $("#sb-scenes").innerHTML = "";
  $("#empty").hidden = true;
  $("#job").hidden = false;
  let job;
  try { job = await api("GET", `/v1/videos/${id}`); } catch (e) { banner(e.message); return; }
  state.job = job;
  history.replaceState(null, "", `#${job.id}`);
  render(job);
  if (TERMINAL.has(job.status)) {
    if (job.status === "done") playMp4();
    loadStoryboard();
  } else {
    follow(job);
    if (job.segments > 0) playHls();
  }
  document.querySelectorAll("#history button").forEach((b) => b.classList.remove("current"));
}

function follow(job) {
  closeStream();
  const es = new EventSource(withToken(`/v1/videos/${job.id}/events`));
  state.es = es;
  es.addEventListener("progress", scheduleRefresh);
  es.addEventListener("status", (e) => {
    const d = JSON.parse(e.data);
    scheduleRefresh();
    if (TERMINAL.has(d.status)) {
      loadHistory();
      loadStoryboard();
    }
  });
  es.addEventListener("storyboard", () => loadStoryboard());
  es.addEventListener("segment", (e) => {
    const d = JSON.parse(e.data);
    scheduleRefresh();
    if (!state.playing) playHls();
    if (d.scene !== null) refreshThumb(d.scene);
  });
  es.addEventListener("end", () => { closeStream(); refresh(); });
  es.onerror = () => { /* EventSource reconnects by itself */ };
}

function scheduleRefresh() {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(() => { state.refreshTimer = null; refresh(); }, 250);
}

async function refresh() {
  if (!state.job) return;
  try {
    const job = await api("GET", `/v1/videos/${state.job.id}`);
    const was = state.job.status;
    state.job = job;
    render(job);
    if (job.status === "done" && !state.playing) playMp4();
    if (was !== job.status && TERMINAL.has(job.status)) loadHistory();
  } catch (e) { banner(e.message); }
}

function playHls() {
  const job = state.job;
  const v = $("#player");
  const url = `/v1/videos/${job.id}/stream.m3u8`;
  if (window.Hls && window.Hls.isSupported()) {
    const hls = new window.Hls({
      xhrSetup: (xhr) => { if (state.token) xhr.setRequestHeader("Authorization", "Bearer " + state.token); },
      liveDurationInfinity: false,
    });
    hls.on(window.Hls.Events.ERROR, (_, data) => {
      if (data.fatal && data.type === window.Hls.ErrorTypes.NETWORK_ERROR) hls.startLoad();
      else if (data.fatal && data.type === window.Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
    });
    hls.loadSource(url);
    hls.attachMedia(v);
    state.hls = hls;
  } else if (v.canPlayType("application/vnd.apple.mpegurl")) {
    v.src = withToken(url);
  } else {
    return; // no HLS here: the MP4 plays when the video is done
  }
  state.playing = "hls";
  v.controls = true;
  $("#player-wait").hidden = true;
  v.play().catch(() => { /* autoplay refused: the controls are there */ });
}

function playMp4() {
  const job = state.job;
  if (state.hls) { state.hls.destroy(); state.hls = null; }
  const v = $("#player");
  v.poster = withToken(`/v1/videos/${job.id}/poster.png?v=${job.generation}`);
  v.src = withToken(`/v1/videos/${job.id}/video.mp4?v=${job.generation}`);
  state.playing = "mp4";
  v.controls = true;
  $("#player-wait").hidden = true;
}

function render(job) {
  $("#job-title").textContent = job.title || "Writing the script…";
  $("#job-prompt").textContent = `${job.request.prompt} · ${fmtDuration(job.request.duration)} · ${job.request.style}`
    + ` · ${job.request.aspect} · ${job.request.resolution}`;
  const badge = $("#job-status");
  badge.className = `badge ${job.status}`;
  badge.textContent = job.cancel_requested && job.status === "running" ? "cancelling" : job.status;
  const [w, h] = job.request.aspect.split(":").map(Number);
  $(".player").style.aspectRatio = `${w} / ${h}`;
  $(".player").style.maxHeight = h > w ? "70vh" : "";
  $(".player").style.marginInline = h > w ? "auto" : "";

  $("#overall-bar").style.width = `${job.percent}%`;
  $("#overall-text").textContent = `${Math.round(job.percent)} %`;
  $("#eta").textContent = job.status === "running" && job.eta_seconds !== null
    ? `· about ${fmtDuration(Math.max(1, job.eta_seconds))} left` : job.status === "queued" ? "· waiting for a free worker" : "";

  const ol = $("#stages");
  ol.innerHTML = "";
  for (const [key, label] of STAGES) {
    const st = job.stages[key];
    const li = document.createElement("li");
    const frac = st && st.total ? st.done / st.total : 0;
    if (st && frac >= 1) li.classList.add("complete");
    else if (job.stage === key) li.classList.add("active");
    const count = st ? `${st.done}/${st.total}${st.cached && frac >= 1 ? " · cached" : ""}` : "";
    li.innerHTML = `<div class="s-name"><span></span><span></span></div><div class="bar"><span></span></div>`;
    li.querySelector(".s-name span").textContent = label;
    li.querySelector(".s-name span + span").textContent = count;
    li.querySelector(".bar span").style.width = `${Math.round(frac * 100)}%`;
    ol.appendChild(li);
  }

  const sc = $("#scenes");
  sc.innerHTML = "";
  job.scenes.forEach((s, i) => {
    const chip = document.createElement("span");
    chip.className = "scene-chip";
    let word = "waiting";
    if (s.playable) { chip.classList.add("playable"); word = "ready"; }
    else if (s.render) { chip.classList.add("rendered"); word = "rendered"; }
    else if (s.narration || s.visuals) { chip.classList.add("partial"); word = s.narration && s.visuals ? "assets" : "working"; }
    chip.textContent = `Scene ${i + 1} · ${word}`;
    sc.appendChild(chip);
  });

  $("#player-wait").textContent = {
    failed: "No video: see the message below.", cancelled: "Cancelled.", queued: "Waiting for a free worker…",
  }[job.status] || "The preview starts as soon as the first scene is ready…";

  const err = $("#job-error");
  err.hidden = !job.error && job.status !== "cancelled";
  err.textContent = job.error ? `This video could not be made: ${job.error}` : job.status === "cancelled" ? "Cancelled." : "";

  const done = job.status === "done";
  for (const [id, link, extra] of [
    ["#dl-video", job.links.video, "download=1"], ["#dl-vtt", job.links.subtitles, ""],
    ["#dl-srt", `/v1/videos/${job.id}/subtitles.srt`, ""], ["#dl-poster", job.links.poster, ""],
    ["#dl-storyboard", job.links.storyboard, ""],
  ]) {
    const a = $(id);
    a.hidden = !done;
    a.href = withToken(extra ? `${link}?${extra}` : link);
    if (id !== "#dl-video") a.target = "_blank";
  }
  const brBtn = $("#browser-render");
  brBtn.hidden = !done || !browserSupported();
  brBtn.disabled = state.browser.busy;
  const client = job.links.client_render;
  const dlClient = $("#dl-client");
  dlClient.hidden = !done || !client;
  if (client) {
    dlClient.href = withToken(`${client}?download=1`);
    dlClient.textContent = `Browser render (${client.endsWith(".webm") ? "WebM" : "MP4"})`;
  }
  $("#cancel").hidden = TERMINAL.has(job.status);
  $("#delete").hidden = !TERMINAL.has(job.status);
  updateRerender();
}

// ---- render in this browser ----------------------------------------------------------------------

function browserSupported() {
  try {
    return Boolean(window.ReelforgeRenderer && window.ReelforgeRenderer.supported());
  } catch (e) {
    return false;
  }
}

function fileStem(job) {
  const s = String(job.title || job.request.prompt || "video").toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60);
  return s || "video";
}

async function uploadClientRender(id, blob) {
  const headers = { "Content-Type": blob.type || "application/octet-stream" };
  if (state.token) headers.Authorization = "Bearer " + state.token;
  let res;
  try {
    res = await fetch(`/v1/videos/${id}/client-render`, { method: "PUT", headers, body: blob });
  } catch (e) {
    throw new Error("Cannot reach the server to upload the file; you can still save it below.");
  }
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const d = data && data.detail;
    throw new Error(typeof d === "string" ? d : plainError(res.status, data));
  }
  return data;
}

async function browserRender() {
  const job = state.job;
  if (!job || job.status !== "done" || state.browser.busy || !browserSupported()) return;
  const id = job.id;
  const here = () => state.job && state.job.id === id;
  const box = $("#browser-box");
  const bar = $("#browser-bar");
  const status = $("#browser-status");
  const link = $("#browser-download");
  const show = (fraction, text) => {
    if (!here()) return;
    box.hidden = false;
    bar.style.width = `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%`;
    status.textContent = text;
  };
  state.browser.busy = true;
  state.browser.jobId = id;
  $("#browser-render").disabled = true;
  box.classList.remove("failed", "done");
  link.hidden = true;
  if (state.browser.url) { URL.revokeObjectURL(state.browser.url); state.browser.url = null; }
  window.browserRenderResult = null;
  show(0, "Mixing the sound…");
  let stats = null;
  let fraction = 0;
  try {
    const blob = await window.ReelforgeRenderer.render(withToken(`/v1/videos/${id}/timeline`), {
      fontUrl: "/static/font.ttf",
      onProgress: (p) => {
        fraction = p.fraction;
        show(p.fraction, p.stage === "video" ? `Rendering frame ${p.done} of ${p.total} in this browser…`
          : p.stage === "audio" ? "Mixing the sound…" : "Finishing the file…");
      },
      onStats: (s) => { stats = s; },
    });
    const ext = (stats && stats.container === "webm") || blob.type === "video/webm" ? "webm" : "mp4";
    const url = URL.createObjectURL(blob);
    state.browser.url = url;
    link.href = url;
    link.download = `${fileStem(job)}-browser.${ext}`;
    link.hidden = !here();
    const took = stats ? ` in ${stats.seconds.toFixed(1)} s` : "";
    show(1, `Rendered${took}. Uploading a copy to the server…`);
    const saved = await uploadClientRender(id, blob);
    show(1, `Rendered in this browser${took} and saved on the server.`);
    if (here()) box.classList.add("done");
    window.browserRenderResult = { ok: true, stats, size: blob.size, type: blob.type, uploaded: saved.client_render };
    if (here()) await refresh();
  } catch (e) {
    if (here()) box.classList.add("failed");
    const saveHint = state.browser.url ? " The file is still yours to save." : "";
    show(fraction, `The browser render did not finish: ${e.message || e}.${saveHint}`);
    window.browserRenderResult = { ok: false, error: String((e && e.message) || e) };
  } finally {
    state.browser.busy = false;
    if (here()) $("#browser-render").disabled = false;
  }
}

// ---- storyboard -------------------------------------------------------------------------------

function refreshThumb(i) {
  const img = document.querySelector(`#sb-scenes li[data-index="${i}"] img`);
  if (img) { img.hidden = false; img.src = thumbUrl(i); }
}

function thumbUrl(i) {
  return withToken(`/v1/videos/${state.job.id}/scenes/${i}/thumbnail.jpg?g=${state.job.generation}&t=${Date.now()}`);
}

async function loadStoryboard() {
  if (!state.job) return;
  let sb;
  try { sb = await api("GET", `/v1/videos/${state.job.id}/storyboard`); } catch (e) { return; }
  state.storyboard = sb;
  state.edits.clear();
  const ol = $("#sb-scenes");
  ol.innerHTML = "";
  for (const s of sb.scenes) {
    const li = document.createElement("li");
    li.className = "sb-scene";
    li.dataset.index = s.index;
    li.innerHTML = `
      <div><img class="sb-thumb" alt=""><div class="sb-thumb ph" hidden>no picture yet</div></div>
      <div>
        <div class="sb-meta"></div>
        <label>Narration</label><textarea rows="3" data-field="narration"></textarea>
        <label>Picture</label><textarea rows="2" data-field="visual"></textarea>
        <label>Layout</label><select data-field="layout"></select>
      </div>`;
    const shows = s.plan ? (s.plan.items || []).map((it) => it.label).concat(s.plan.number ? [`${s.plan.number} ${s.plan.unit || ""}`.trim()] : []).join(", ") : "";
    li.querySelector(".sb-meta").textContent =
      `Scene ${s.index + 1} · ${s.role} · ${s.duration.toFixed(1)} s` + (shows ? ` · shows ${shows}` : "");
    const select = li.querySelector("select");
    for (const name of LAYOUTS) {
      const opt = document.createElement("option");
      opt.value = name;
      opt.textContent = name;
      select.appendChild(opt);
    }
    select.value = s.plan ? s.plan.layout : "hero";
    select.disabled = !s.plan;
    select.addEventListener("change", () => noteEdit(s.index));
    const img = li.querySelector("img");
    img.alt = `Scene ${s.index + 1}`;
    img.onerror = () => { img.hidden = true; li.querySelector(".ph").hidden = false; };
    img.onload = () => { li.querySelector(".ph").hidden = true; };
    img.src = thumbUrl(s.index);
    for (const ta of li.querySelectorAll("textarea")) {
      ta.value = s[ta.dataset.field];
      ta.addEventListener("input", () => noteEdit(s.index));
    }
    ol.appendChild(li);
  }
  updateRerender();
}

function noteEdit(i) {
  const li = document.querySelector(`#sb-scenes li[data-index="${i}"]`);
  const orig = state.storyboard.scenes[i];
  const narration = li.querySelector('[data-field="narration"]').value;
  const visual = li.querySelector('[data-field="visual"]').value;
  const layout = li.querySelector('[data-field="layout"]').value;
  const relaid = orig.plan && layout !== orig.plan.layout;
  if (narration.trim() === orig.narration && visual.trim() === orig.visual && !relaid) state.edits.delete(i);
  else state.edits.set(i, relaid ? { narration, visual, plan: { ...orig.plan, layout } } : { narration, visual });
  li.classList.toggle("changed", state.edits.has(i));
  updateRerender();
}

function updateRerender() {
  const btn = $("#rerender");
  const n = state.edits.size;
  const ready = state.job && TERMINAL.has(state.job.status);
  btn.disabled = !n || !ready;
  btn.textContent = n ? `Re-render ${n} scene${n > 1 ? "s" : ""}` : "Re-render";
  $("#sb-hint").textContent = ready || !state.storyboard
    ? "Edit what a scene says or shows, then re-render: only changed scenes are made again."
    : "You can edit the scenes when the video is finished.";
}

async function rerender() {
  const scenes = [...state.edits.entries()].map(([index, e]) => ({ index, ...e }));
  banner("");
  try {
    const job = await api("PATCH", `/v1/videos/${state.job.id}/storyboard`, { scenes });
    state.edits.clear();
    await openJob(job.id);
    loadHistory();
  } catch (e) { banner(e.message); }
}

// ---- wiring -----------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  const dur = $("#duration");
  const out = $("#duration-out");
  const show = () => { out.textContent = fmtDuration(Number(dur.value)); };
  dur.addEventListener("input", show);
  show();
  const tok = $("#token");
  tok.value = state.token;
  tok.addEventListener("change", () => {
    state.token = tok.value.trim();
    localStorage.setItem("reelforge-token", state.token);
    loadHistory();
  });
  $("#make").addEventListener("submit", submit);
  $("#refresh").addEventListener("click", loadHistory);
  $("#rerender").addEventListener("click", rerender);
  $("#browser-render").addEventListener("click", browserRender);
  $("#cancel").addEventListener("click", async () => {
    try { state.job = await api("DELETE", `/v1/videos/${state.job.id}`); render(state.job); } catch (e) { banner(e.message); }
  });
  $("#delete").addEventListener("click", async () => {
    if (!confirm("Delete this video and its files?")) return;
    try {
      await api("DELETE", `/v1/videos/${state.job.id}`);
      state.job = null;
      closeStream();
      resetPlayer();
      $("#job").hidden = true;
      $("#empty").hidden = false;
      loadHistory();
    } catch (e) { banner(e.message); }
  });
  loadVoices();
  loadHistory();
  const m = location.hash.match(/^#([0-9a-f]{32})$/);
  if (m) openJob(m[1]);
});

window.addEventListener("hashchange", () => {
  const m = location.hash.match(/^#([0-9a-f]{32})$/);
  if (m && (!state.job || state.job.id !== m[1])) openJob(m[1]);
});
