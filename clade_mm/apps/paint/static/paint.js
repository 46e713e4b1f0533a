'use strict';
// The painter's page. The label map is a typed array of class ids (never colours), drawn on a
// canvas through a colour table and sent to the server after each stroke; each model's panel
// shows the newest answer. Plain JavaScript served from the Python package: no framework, no
// network beyond this server.

const $ = (selector) => document.querySelector(selector);
const MAX_UNDO = 100;
// The canvas and each image are shown enlarged to at most this many CSS pixels, less when the
// window is too narrow to hold the tools, the canvas and every model's image in one row.
const DISPLAY_SIDE = 448;

const state = {
  models: [], width: 0, height: 0, classes: [], labels: null, LabelArray: Uint8Array,
  tool: 'brush', current: 0, eraseTo: 0, brush: 6, undo: [], redo: [],
  seed: 0, style: null, client: randomId(), seq: 0, stroke: null, colours: null,
  // Models with per-class style codes (SEAN): the page's style sources (photos with their
  // label maps, encoded on the server) and, per class, the id of the source that paints it.
  sources: [], classStyles: [],
};
const panels = []; // one per model: its figure, request in flight and newest shown answer
// Stroke-to-image times of this page, for benchmarks/bench_paint.py.
window.paintLatencies = [];

function randomId() {
  const words = new Uint32Array(4);
  crypto.getRandomValues(words);
  return Array.from(words, (w) => w.toString(16).padStart(8, '0')).join('');
}

// --- messages ------------------------------------------------------------------------------
function showMessage(text, source, kind = 'error') {
  const box = $('#message');
  $('#message-text').textContent = text;
  box.dataset.kind = kind;
  box.dataset.source = source;
  box.hidden = false;
}

function clearMessage(source) {
  const box = $('#message');
  if (!source || box.dataset.source === source) box.hidden = true;
}

async function readJson(response) {
  try {
    return await response.json();
  } catch (err) {
    if (err.name === 'AbortError') throw err; // a newer request took over while reading
    return { error: `HTTP ${response.status} ${response.statusText}` }; // not the painter's
  }
}

// --- label maps on the wire ----------------------------------------------------------------
function toBase64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

function fromBase64(data) {
  const text = atob(data);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function labelPayload() {
  const ids = state.labels;
  return {
    width: state.width, height: state.height,
    dtype: ids instanceof Uint16Array ? 'uint16' : 'uint8',
    data: toBase64(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength)),
  };
}

function decodeLabels(wire) {
  const bytes = fromBase64(wire.data);
  const ids = wire.dtype === 'uint16' ? new Uint16Array(bytes.buffer) : bytes;
  return state.LabelArray.from(ids);
}

// --- drawing -------------------------------------------------------------------------------
const canvas = $('#labels');
let context = null;
let pixels = null;
let frame = null;

function setupCanvas() {
  canvas.width = state.width;
  canvas.height = state.height;
  context = canvas.getContext('2d');
  frame = context.createImageData(state.width, state.height);
  pixels = new Uint32Array(frame.data.buffer);
  // RGBA bytes in memory are one little-endian word: 0xAABBGGRR.
  state.colours = Uint32Array.from(state.classes, (c) =>
    ((255 << 24) | (c.colour[2] << 16) | (c.colour[1] << 8) | c.colour[0]) >>> 0);
  const sidePanel = $('#class-styles').hidden ? 0 : 286;
  const fits = (window.innerWidth - 300 - sidePanel) / (1 + state.models.length) - 24;
  const side = Math.max(256, Math.min(DISPLAY_SIDE, fits));
  const scale = Math.max(1, Math.min(side / state.width, side / state.height));
  const root = document.documentElement.style;
  root.setProperty('--display-w', `${Math.round(state.width * scale)}px`);
  root.setProperty('--display-h', `${Math.round(state.height * scale)}px`);
  root.setProperty('--display', `${Math.round(state.height * scale)}px`);
  $('#canvas-size').textContent = `${state.width}×${state.height}, shown ×${scale.toFixed(1)}`;
}

function render() {
  const ids = state.labels;
  for (let i = 0; i < ids.length; i++) pixels[i] = state.colours[ids[i]];
  context.putImageData(frame, 0, 0);
}

function labelPoint(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * state.width / box.width,
    (event.clientY - box.top) * state.height / box.height];
}

function inside(x, y) {
  return x >= 0 && y >= 0 && x < state.width && y < state.height;
}

// A disc of the brush's diameter around (x, y), in label pixels; always the pixel under it.
function stamp(x, y, id) {
  const { width, height, labels } = state;
  const r = state.brush / 2;
  const x0 = Math.max(0, Math.floor(x - r)), x1 = Math.min(width - 1, Math.floor(x + r));
  const y0 = Math.max(0, Math.floor(y - r)), y1 = Math.min(height - 1, Math.floor(y + r));
  for (let j = y0; j <= y1; j++) {
    for (let i = x0; i <= x1; i++) {
      const dx = i + 0.5 - x, dy = j + 0.5 - y;
      if (dx * dx + dy * dy <= r * r) labels[j * width + i] = id;
    }
  }
  if (inside(x, y)) labels[Math.floor(y) * width + Math.floor(x)] = id;
}

// Stamps close enough together that a fast stroke leaves no gaps.
function line(xa, ya, xb, yb, id) {
  const steps = Math.ceil(Math.hypot(xb - xa, yb - ya) / Math.max(0.5, state.brush / 4));
  for (let k = 1; k <= steps; k++) {
    stamp(xa + (xb - xa) * k / steps, ya + (yb - ya) * k / steps, id);
  }
}

// 4-connected flood fill; a pixel is recoloured when pushed, so each is pushed once.
function fill(x, y, id) {
  const { width, height, labels } = state;
  const start = Math.floor(y) * width + Math.floor(x);
  const target = labels[start];
  if (target === id) return false;
  const stack = new Int32Array(width * height);
  let top = 0;
  labels[start] = id;
  stack[top++] = start;
  while (top > 0) {
    const i = stack[--top];
    const px = i % width;
    const neighbours = [px > 0 ? i - 1 : -1, px < width - 1 ? i + 1 : -1,
      i >= width ? i - width : -1, i + width < width * height ? i + width : -1];
    for (const n of neighbours) {
      if (n >= 0 && labels[n] === target) {
        labels[n] = id;
        stack[top++] = n;
      }
    }
  }
  return true;
}

// --- undo ----------------------------------------------------------------------------------
function remember() {
  state.undo.push(state.labels.slice());
  if (state.undo.length > MAX_UNDO) state.undo.shift();
  state.redo = [];
  updateHistoryButtons();
}

function forgetLast() { // an action that changed nothing
  state.undo.pop();
  updateHistoryButtons();
}

function step(from, to) {
  if (!from.length) return;
  to.push(state.labels);
  state.labels = from.pop();
  updateHistoryButtons();
  render();
  synthesizeAll();
}

function updateHistoryButtons() {
  $('#undo').disabled = !state.undo.length;
  $('#redo').disabled = !state.redo.length;
}

// --- synthesis -----------------------------------------------------------------------------
// live: while a stroke goes on, ask only a model that is idle; otherwise (a stroke ended, a
// fill, undo...) ask every model now, abandoning its older request: the newest wins.
function synthesizeAll(live = false) {
  for (const panel of panels) {
    if (!(live && panel.controller)) synthesize(panel);
  }
}

// extra: more fields of the request (a re-roll's pixel).
async function synthesize(panel, extra = {}) {
  if (panel.model.class_styles && !state.sources.length) {
    // Nothing to paint with before a style source exists: say so rather than ask the server.
    if (panel.controller) panel.controller.abort();
    panel.controller = null;
    panel.figure.dataset.state = 'needs-style';
    panel.img.removeAttribute('src');
    panel.save.disabled = true;
    panel.prompt.hidden = false;
    return;
  }
  const seq = ++state.seq;
  if (panel.controller) panel.controller.abort();
  const controller = new AbortController();
  panel.controller = controller;
  panel.figure.dataset.state = 'busy';
  panel.figure.dataset.sent = String(seq);
  const body = { model: panel.index, client: state.client, seq, labels: labelPayload(), ...extra };
  if (panel.model.seeded) body.seed = state.seed;
  if (panel.model.style_encoder && state.style) body.style = state.style;
  if (panel.model.class_styles) body.class_styles = state.classStyles.slice();
  const sent = performance.now();
  try {
    const response = await fetch('api/synthesize', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body), signal: controller.signal,
    });
    const answer = await readJson(response);
    if (response.status === 409) return; // a newer request of this page will answer
    if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
    const image = new Image();
    image.src = answer.image;
    await image.decode();
    if (seq <= panel.shown) return; // a newer answer is already on screen
    panel.img.src = image.src;
    panel.shown = seq;
    panel.figure.dataset.shown = String(seq);
    panel.save.disabled = false;
    panel.prompt.hidden = true;
    const roundTrip = performance.now() - sent;
    panel.latency.textContent = `${roundTrip.toFixed(0)} ms stroke to image · ` +
      `${answer.server_ms.toFixed(0)} ms on the server, ${answer.compute_ms.toFixed(0)} ms of ` +
      `it synthesis`;
    window.paintLatencies.push({ model: panel.index, seq, round_trip_ms: roundTrip,
      server_ms: answer.server_ms, compute_ms: answer.compute_ms });
    clearMessage(`model-${panel.index}`);
  } catch (err) {
    if (err.name === 'AbortError') return;
    if (panel.controller === controller) {
      panel.figure.dataset.state = 'error';
      showMessage(`${panel.model.norm}: ${err.message}`, `model-${panel.index}`);
    }
  } finally {
    if (panel.controller === controller) {
      panel.controller = null;
      if (panel.figure.dataset.state === 'busy') panel.figure.dataset.state = 'idle';
    }
  }
}

// A class's style source changed: only the models with per-class style codes paint anew.
function synthesizeStyled() {
  for (const panel of panels) {
    if (panel.model.class_styles) synthesize(panel);
  }
}

// Re-roll: a model with per-instance noise or a noise map draws a new look for the region
// under (x, y) (the painter's instances are the class regions; a noise map is re-drawn over
// the class's pixels); the label map does not change.
function reroll(x, y) {
  const point = { x: Math.floor(x), y: Math.floor(y) };
  for (const panel of panels) {
    if (panel.model.reroll) synthesize(panel, { reroll: point });
  }
}

// --- pointer -------------------------------------------------------------------------------
canvas.addEventListener('pointerdown', (event) => {
  if (event.button !== 0 || !state.labels) return;
  const [x, y] = labelPoint(event);
  if (!inside(x, y)) return;
  event.preventDefault();
  if (state.tool === 'reroll') {
    reroll(x, y);
    return;
  }
  remember();
  if (state.tool === 'fill') {
    if (fill(x, y, state.current)) {
      render();
      synthesizeAll();
    } else {
      forgetLast();
    }
    return;
  }
  canvas.setPointerCapture(event.pointerId);
  const id = state.tool === 'eraser' ? state.eraseTo : state.current;
  state.stroke = { x, y, id };
  stamp(x, y, id);
  render();
  synthesizeAll(true);
});

canvas.addEventListener('pointermove', (event) => {
  const [x, y] = labelPoint(event);
  if (inside(x, y)) {
    const id = state.labels[Math.floor(y) * state.width + Math.floor(x)];
    $('#cursor-info').textContent = `${Math.floor(x)}, ${Math.floor(y)}: ${state.classes[id].name}`;
  }
  const stroke = state.stroke;
  if (!stroke) return;
  line(stroke.x, stroke.y, x, y, stroke.id);
  stroke.x = x;
  stroke.y = y;
  render();
  synthesizeAll(true);
});

function endStroke() {
  if (!state.stroke) return;
  state.stroke = null;
  synthesizeAll();
}
canvas.addEventListener('pointerup', endStroke);
canvas.addEventListener('pointercancel', endStroke);

// --- controls ------------------------------------------------------------------------------
function setTool(tool) {
  if (tool === 'reroll' && !state.models.some((m) => m.reroll)) return;
  state.tool = tool;
  canvas.dataset.mode = tool; // its cursor (not data-tool, which marks the buttons)
  for (const button of document.querySelectorAll('[data-tool]')) {
    button.setAttribute('aria-pressed', String(button.dataset.tool === tool));
  }
}

function setClass(id) {
  state.current = id;
  for (const button of document.querySelectorAll('#palette button')) {
    button.setAttribute('aria-pressed', String(Number(button.dataset.classId) === id));
  }
  if (state.tool === 'eraser' || state.tool === 'reroll') setTool('brush');
}

function setBrush(size) {
  const input = $('#brush-size');
  state.brush = Math.min(Number(input.max), Math.max(1, Math.round(size)));
  input.value = state.brush;
  $('#brush-size-value').textContent = state.brush;
}

function buildPalette() {
  const list = $('#palette');
  const eraseTo = $('#erase-to');
  for (const c of state.classes) {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.classId = c.id;
    button.setAttribute('aria-pressed', 'false');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = `rgb(${c.colour.join(',')})`;
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = c.name + (c.dont_care ? " (don't care)" : '');
    const id = document.createElement('span');
    id.className = 'id';
    id.textContent = c.id;
    button.append(swatch, name, id);
    if (c.unused) {
      item.className = 'unused';
      button.title = 'this id never occurs in the training data';
    }
    button.addEventListener('click', () => setClass(c.id));
    item.append(button);
    item.dataset.name = c.name.toLowerCase();
    list.append(item);
    eraseTo.append(new Option(`${c.id}: ${c.name}`, c.id));
  }
  $('#class-filter').addEventListener('input', (event) => {
    const text = event.target.value.trim().toLowerCase();
    for (const item of list.children) item.hidden = !item.dataset.name.includes(text);
  });
  eraseTo.addEventListener('change', () => { state.eraseTo = Number(eraseTo.value); });
}

function buildPanels() {
  const template = $('#output-template');
  for (const model of state.models) {
    const figure = template.content.firstElementChild.cloneNode(true);
    figure.querySelector('.name').textContent = model.norm;
    figure.querySelector('.source').textContent =
      `${model.config} · ${model.checkpoint || 'initial weights'}`;
    const panel = { index: model.index, model, figure, controller: null, shown: 0,
      img: figure.querySelector('img'), latency: figure.querySelector('.latency'),
      save: figure.querySelector('.save-image'), prompt: figure.querySelector('.prompt') };
    panel.save.addEventListener('click', () => download(panel.img.src,
      `${model.norm.toLowerCase()}_${model.config.replace(/\.py$/, '')}.png`));
    $('#outputs').append(figure);
    panels.push(panel);
  }
}

function download(url, name) {
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
}

// --- style sources (models with per-class style codes) --------------------------------------
function buildClassStyles() {
  if (!state.models.some((m) => m.class_styles)) return;
  $('#class-styles').hidden = false;
  state.classStyles = state.classes.map(() => null);
  const list = $('#class-slots');
  for (const c of state.classes) {
    const item = document.createElement('li');
    item.dataset.classId = c.id;
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = `rgb(${c.colour.join(',')})`;
    const name = document.createElement('label');
    name.textContent = c.name;
    name.htmlFor = `slot-${c.id}`;
    const select = document.createElement('select');
    select.id = `slot-${c.id}`;
    select.dataset.classId = c.id;
    select.disabled = true;
    select.addEventListener('change', () => {
      state.classStyles[c.id] = select.value;
      updateSlotNote(c.id);
      synthesizeStyled();
    });
    const absent = document.createElement('span');
    absent.className = 'absent';
    absent.textContent = 'not in this photo: painted with the zero style code';
    absent.hidden = true;
    item.append(swatch, name, select, absent);
    list.append(item);
  }
  renderSources();
  $('#source-photo').addEventListener('change', updateChosenFiles);
  $('#source-labels').addEventListener('change', updateChosenFiles);
  $('#add-source').addEventListener('click', addSource);
}

function updateChosenFiles() {
  const photo = $('#source-photo').files[0], labels = $('#source-labels').files[0];
  $('#source-chosen').textContent =
    `photo: ${photo ? photo.name : 'none'} · label map: ${labels ? labels.name : 'none'}`;
  $('#add-source').disabled = !(photo || labels);
}

function sourceLabel(source) {
  return `${state.sources.indexOf(source) + 1}: ${source.name}`;
}

function updateSlotNote(id) {
  const item = $(`#class-slots li[data-class-id="${id}"]`);
  const source = state.sources.find((s) => s.source === state.classStyles[id]);
  item.querySelector('.absent').hidden = !source || source.classes.has(id);
}

// The list of sources and every class's choices, from state.sources and state.classStyles.
function renderSources() {
  const list = $('#style-sources');
  list.replaceChildren();
  for (const source of state.sources) {
    const item = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = sourceLabel(source);
    name.title = `${source.name} (${source.width}×${source.height}) with ${source.labels_name}`;
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'remove';
    remove.textContent = '×';
    remove.setAttribute('aria-label', `Remove ${source.name}`);
    remove.addEventListener('click', () => removeSource(source));
    item.append(name, remove);
    list.append(item);
  }
  $('#no-source').hidden = state.sources.length > 0;
  for (const select of document.querySelectorAll('#class-slots select')) {
    const id = Number(select.dataset.classId);
    const options = state.sources.map((source) => new Option(
      sourceLabel(source) + (source.classes.has(id) ? '' : ' (not in this photo)'),
      source.source));
    select.replaceChildren(...(options.length ? options : [new Option('no style source yet', '')]));
    select.disabled = !state.sources.length;
    if (state.classStyles[id]) select.value = state.classStyles[id];
    updateSlotNote(id);
  }
}

async function addSource() {
  const photo = $('#source-photo').files[0], labels = $('#source-labels').files[0];
  const form = new FormData();
  form.append('client', state.client);
  if (photo) form.append('photo', photo);
  if (labels) form.append('labels', labels);
  $('#add-source').disabled = true;
  const names = [photo, labels].filter(Boolean).map((f) => f.name).join(' + ');
  let response, answer;
  try {
    response = await fetch('api/add-style-source', { method: 'POST', body: form });
    answer = await readJson(response);
  } catch (err) {
    answer = { error: err.message };
  } finally {
    updateChosenFiles();
  }
  if (!response || !response.ok) { // nothing changes: the chosen files stay, to replace one
    showMessage(`Could not add ${names} as a style source: ${answer.error}`, 'source');
    return;
  }
  const source = { ...answer, classes: new Set(answer.classes) };
  state.sources.push(source);
  // The first source styles every class; a later one only the classes it is picked for.
  if (state.sources.length === 1) state.classStyles.fill(source.source);
  $('#source-photo').value = '';
  $('#source-labels').value = '';
  updateChosenFiles();
  renderSources();
  const absent = state.classes.filter((c) => !source.classes.has(c.id)).map((c) => c.name);
  showMessage(`Added ${names} as style source ${sourceLabel(source)}` +
    (absent.length ? ` (not in this photo: ${absent.join(', ')})` : ''), 'source', 'info');
  if (state.sources.length === 1) synthesizeStyled();
}

async function removeSource(source) {
  const response = await fetch('api/remove-style-source', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ client: state.client, source: source.source }),
  });
  // 404: the server forgot it already; either way the page drops it.
  if (!response.ok && response.status !== 404) {
    showMessage(`Could not remove ${source.name}: ${(await readJson(response)).error}`,
      'source');
    return;
  }
  state.sources.splice(state.sources.indexOf(source), 1);
  const first = state.sources.length ? state.sources[0].source : null;
  let changed = false;
  state.classStyles = state.classStyles.map((token) => {
    if (token !== source.source) return token;
    changed = true;
    return first; // back to the default, the first source
  });
  renderSources();
  if (changed || !first) synthesizeStyled();
}

async function postFile(url, file) {
  const form = new FormData();
  form.append('file', file);
  const response = await fetch(url, { method: 'POST', body: form });
  return [response, await readJson(response)];
}

function setupControls() {
  for (const button of document.querySelectorAll('[data-tool]')) {
    button.addEventListener('click', () => setTool(button.dataset.tool));
  }
  // The re-roll tool, for models with per-instance noise or a noise map only.
  $('[data-tool=reroll]').hidden = !state.models.some((m) => m.reroll);
  $('#brush-size').max = Math.max(8, Math.floor(Math.max(state.width, state.height) / 2));
  $('#brush-size').addEventListener('input', (event) => setBrush(Number(event.target.value)));
  $('#undo').addEventListener('click', () => step(state.undo, state.redo));
  $('#redo').addEventListener('click', () => step(state.redo, state.undo));
  $('#clear').addEventListener('click', () => {
    remember();
    state.labels.fill(state.eraseTo);
    render();
    synthesizeAll();
  });
  $('#message-close').addEventListener('click', () => clearMessage());

  $('#load-labels').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    event.target.value = ''; // the same file may be loaded again
    if (!file) return;
    const [response, answer] = await postFile('api/read-labels', file);
    if (!response.ok) {
      showMessage(`Could not load ${file.name}: ${answer.error}`, 'load');
      return;
    }
    remember();
    state.labels = decodeLabels(answer.labels);
    render();
    synthesizeAll();
    const resized = answer.resized ? ` (${answer.source_width}×${answer.source_height}, ` +
      `resized to ${state.width}×${state.height})` : '';
    showMessage(`Loaded ${answer.name}${resized}`, 'load', 'info');
  });

  $('#save-labels').addEventListener('click', async () => {
    const response = await fetch('api/save-labels', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ labels: labelPayload() }),
    });
    if (!response.ok) {
      showMessage(`Could not save the label map: ${(await readJson(response)).error}`, 'save');
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    download(url, 'labels.png');
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });

  const seeded = state.models.some((m) => m.seeded);
  const styled = state.models.some((m) => m.style_encoder);
  $('#style-controls').hidden = !(seeded || styled);
  $('#seed-controls').hidden = !seeded;
  $('#style-image-controls').hidden = !styled;
  const setSeed = (value) => {
    state.seed = Math.min(4294967295, Math.max(0, Math.floor(Number(value) || 0)));
    $('#seed').value = state.seed;
    synthesizeAll();
  };
  $('#seed').addEventListener('change', (event) => setSeed(event.target.value));
  $('#new-seed').addEventListener('click', () => setSeed(Math.random() * 4294967296));
  $('#style-file').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    event.target.value = '';
    if (!file) return;
    const [response, answer] = await postFile('api/style', file);
    if (!response.ok) {
      showMessage(`Could not use ${file.name} as the style: ${answer.error}`, 'style');
      return;
    }
    state.style = answer.style;
    $('#style-name').textContent = `style: ${file.name} (${answer.width}×${answer.height})`;
    $('#clear-style').disabled = false;
    clearMessage('style');
    synthesizeAll();
  });
  $('#clear-style').addEventListener('click', () => {
    state.style = null;
    $('#style-name').textContent = '';
    $('#clear-style').disabled = true;
    synthesizeAll();
  });

  document.addEventListener('keydown', (event) => {
    // Keys typed into a field are the field's; the brush slider keeps the shortcuts.
    if (event.target.matches('input:not([type=range]), select, textarea')) return;
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && key === 'z') {
      event.preventDefault();
      if (event.shiftKey) step(state.redo, state.undo); else step(state.undo, state.redo);
    } else if ((event.ctrlKey || event.metaKey) && key === 'y') {
      event.preventDefault();
      step(state.redo, state.undo);
    } else if (!event.ctrlKey && !event.metaKey && !event.altKey) {
      const tool = { b: 'brush', f: 'fill', e: 'eraser', r: 'reroll' }[key];
      if (tool) setTool(tool);
      if (key === '[') setBrush(state.brush - 1);
      if (key === ']') setBrush(state.brush + 1);
    }
  });
}

async function init() {
  const response = await fetch('api/models');
  const info = await readJson(response);
  if (!response.ok) {
    showMessage(`The server did not describe its models: ${info.error}`, 'init');
    return;
  }
  state.models = info.models;
  const first = state.models[0];
  Object.assign(state, { width: first.width, height: first.height, classes: first.classes });
  state.LabelArray = first.num_classes > 256 ? Uint16Array : Uint8Array;
  $('#model-info').textContent = state.models.map((m) =>
    `${m.norm}: ${m.config}, ${m.checkpoint || 'initial weights'}`).join('  vs  ') +
    ` · ${first.width}×${first.height} label map, ${first.num_classes} classes`;
  buildPalette();
  buildClassStyles();
  buildPanels();
  setupControls();
  setupCanvas();
  setClass(Math.min(1, state.classes.length - 1));
  state.labels = new state.LabelArray(state.width * state.height).fill(state.eraseTo);
  render();
  synthesizeAll();
  document.body.dataset.ready = 'true';
}

init().catch((err) => showMessage(`The page could not start: ${err.message}`, 'init'));
