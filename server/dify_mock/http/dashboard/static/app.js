// The dify-mock dashboard: one EventSource on /mock/events, plain DOM, no build step.
// Bounded on purpose: at most MAX_ENTRIES calls and MAX_CHUNKS_SHOWN chunks per call stay on the page.
"use strict";

const MAX_ENTRIES = 300;
const MAX_CHUNKS_SHOWN = 200;
const MAX_TEXT = 20000;
const AUDIO_TYPES = new Set(["tts", "invoke_tts"]);
const KIND_LABELS = { reverse: "◀ reverse", dispatch: "▶ dispatch" };

const state = {
  key: sessionStorage.getItem("dify-mock-key") || "",
  info: null,
  plugins: new Map(), // tenant/plugin_id -> plugin description
  knowsPlugins: false, // until the first snapshot, who is connected is unknown: the page says "loading"
  entries: new Map(), // journal id -> {data, element, shown, more}
  source: null,
};

const $ = (selector, root = document) => root.querySelector(selector);

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function text(i18n) {
  if (i18n === null || i18n === undefined) return "";
  if (typeof i18n === "string") return i18n;
  return i18n.en_US || Object.values(i18n)[0] || "";
}

const list = (value) => (Array.isArray(value) ? value : []);

function withKey(url) {
  return state.key ? `${url}${url.includes("?") ? "&" : "?"}key=${encodeURIComponent(state.key)}` : url;
}

function keyHeaders() {
  return state.key ? { "X-Api-Key": state.key } : {};
}

function setStatus(status, label) {
  const node = $("#status");
  node.dataset.state = status;
  node.textContent = label || status;
}

function updateSummary() {
  const running = [...state.entries.values()].filter((item) => !item.data.done).length;
  $("#summary").textContent =
    `${state.plugins.size} plugin${state.plugins.size === 1 ? "" : "s"} connected · ` +
    `${state.entries.size} calls shown${running ? ` · ${running} running` : ""}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Start-up and the event stream
// ---------------------------------------------------------------------------------------------------------------

// The event stream and /mock/info are asked for at once: the first snapshot is what tells who is connected.
async function start() {
  connect();
  const response = await fetch("/mock/info", { headers: keyHeaders() });
  if (response.status === 401) {
    askForKey();
    return;
  }
  state.info = await response.json();
  renderSetup();
}

function askForKey() {
  if (state.source) state.source.close();
  state.source = null;
  setStatus("disconnected", "server key needed");
  const form = $("#key-form");
  form.hidden = false;
  form.onsubmit = (event) => {
    event.preventDefault();
    state.key = form.elements.key.value;
    sessionStorage.setItem("dify-mock-key", state.key);
    form.hidden = true;
    start();
  };
}

function connect() {
  if (state.source) state.source.close();
  const source = new EventSource(withKey("/mock/events?history=200"));
  state.source = source;
  source.addEventListener("open", () => setStatus("connecting", "loading…"));
  source.addEventListener("error", () => {
    if (state.source !== source) return; // closed on purpose (a key is needed)
    setStatus(source.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting");
  });
  // A snapshot starts with `plugins`: everything shown so far is replaced by it.
  source.addEventListener("plugins", (event) => {
    state.knowsPlugins = true;
    state.plugins.clear();
    for (const plugin of JSON.parse(event.data).plugins) state.plugins.set(pluginKey(plugin), plugin);
    renderPlugins();
    for (const item of state.entries.values()) item.element.remove();
    state.entries.clear();
    updateSummary();
  });
  source.addEventListener("plugin", (event) => {
    const { event: what, plugin } = JSON.parse(event.data);
    if (what === "connected") state.plugins.set(pluginKey(plugin), plugin);
    else state.plugins.delete(pluginKey(plugin));
    renderPlugin(plugin, what === "connected");
    renderSetup();
    updateSummary();
  });
  for (const name of ["entry", "started", "finished"]) {
    source.addEventListener(name, (event) => upsertEntry(JSON.parse(event.data)));
  }
  source.addEventListener("chunk", (event) => addChunk(JSON.parse(event.data)));
  source.addEventListener("ready", () => setStatus("live"));
  source.addEventListener("reset", () => setStatus("connecting", "catching up…"));
}

const pluginKey = (plugin) => `${plugin.tenant_id}/${plugin.plugin_id}`;

// ---------------------------------------------------------------------------------------------------------------
// Plugins and what they declare
// ---------------------------------------------------------------------------------------------------------------

function renderSetup() {
  const setup = $("#setup");
  setup.replaceChildren();
  const info = state.info;
  if (!info) return;
  if (!state.knowsPlugins) {
    setup.append(el("p", { class: "muted loading" }, "Loading: asking the mock which plugins are connected…"));
  } else if (state.plugins.size === 0) {
    const key = info.remote_keys_required ? "<one of the mock's --key values>" : "any-key-works";
    setup.append(
      el("div", { class: "setup" },
        el("p", { class: "muted" }, "No plugin is connected. Put these lines in your plugin's .env, then run ", el("code", {}, "python -m main"), ":"),
        el("pre", {}, `INSTALL_METHOD=remote\nREMOTE_INSTALL_URL=${info.remote_install_url || `${location.hostname}:${info.debug_port}`}\nREMOTE_INSTALL_KEY=${key}`),
      ),
    );
  }
  const sources = Object.entries(info.rules || {});
  if (sources.length) {
    setup.append(
      el("p", { class: "muted" }, "Fixture rules: ",
        sources.map(([source, perKey]) =>
          `${source} (${Object.entries(perKey).map(([key, count]) => `${key}: ${count}`).join(", ") || "no rules"})`).join("; ")),
    );
  }
  for (const warning of list(info.warnings)) setup.append(el("div", { class: "warning" }, warning));
}

// After a reconnect the same plugins come back: their cards (and any form being filled in) are kept.
function renderPlugins() {
  for (const card of [...document.querySelectorAll("#plugins .plugin")]) {
    const plugin = state.plugins.get(card.dataset.key);
    if (!plugin || plugin.identity !== card.dataset.identity) card.remove();
  }
  for (const plugin of state.plugins.values()) {
    const card = [...document.querySelectorAll("#plugins .plugin")].find((node) => node.dataset.key === pluginKey(plugin));
    try {
      if (!card) renderPlugin(plugin, true);
    } catch (error) {
      console.error(`cannot show ${pluginKey(plugin)}`, error);
    }
  }
  renderSetup();
}

function renderPlugin(plugin, present) {
  const key = pluginKey(plugin);
  const existing = [...document.querySelectorAll("#plugins .plugin")].find((node) => node.dataset.key === key);
  if (!present) {
    if (existing) existing.remove();
    return;
  }
  const declaration = plugin.declaration || {};
  const manifest = declaration.manifest || {};
  const card = el("article", { class: "plugin", dataset: { key, pluginId: plugin.plugin_id, tenant: plugin.tenant_id, identity: plugin.identity } },
    el("h3", {}, text(manifest.label) || plugin.plugin_id, " ",
      el("span", { class: "tag" }, plugin.plugin_id), " ",
      el("span", { class: "tag" }, `tenant ${plugin.tenant_id}`), " ",
      el("span", { class: "tag" }, plugin.transport)),
    el("div", { class: "muted" }, text(manifest.description)),
    renderTools(plugin, list(declaration.tools)),
    renderModels(list(declaration.models)),
    renderEndpoints(list(declaration.endpoints)),
    renderStrategies(plugin, list(declaration.agent_strategies)),
    renderNamed("Datasources", list(declaration.datasources), "datasources"),
    renderNamed("Triggers", list(declaration.triggers), "events"),
  );
  if (existing) existing.replaceWith(card);
  else $("#plugins").append(card);
}

function renderTools(plugin, providers) {
  if (!providers.length) return null;
  return providers.map((provider) => {
    const name = provider?.identity?.name || "?";
    return el("div", { class: "provider" },
      el("h4", {}, `Tools · ${name}`),
      list(provider?.tools).map((tool) => renderInvocable(plugin, {
        kind: "tool",
        provider: name,
        name: tool?.identity?.name || "?",
        label: text(tool?.identity?.label),
        description: text(tool?.description?.human) || text(tool?.identity?.description),
        parameters: list(tool?.parameters),
        credentials: list(provider?.credentials_schema),
      })));
  });
}

function renderStrategies(plugin, providers) {
  if (!providers.length) return null;
  return providers.map((provider) => {
    const name = provider?.identity?.name || "?";
    return el("div", { class: "provider" },
      el("h4", {}, `Agent strategies · ${name}`),
      list(provider?.strategies).map((strategy) => renderInvocable(plugin, {
        kind: "agent_strategy",
        provider: name,
        name: strategy?.identity?.name || "?",
        label: text(strategy?.identity?.label),
        description: text(strategy?.description),
        parameters: list(strategy?.parameters),
        credentials: [],
      })));
  });
}

function renderModels(providers) {
  if (!providers.length) return null;
  return providers.map((provider) => el("div", { class: "provider" },
    el("h4", {}, `Models · ${provider?.provider || "?"}`),
    el("div", { class: "params" }, `types: ${list(provider?.supported_model_types).join(", ") || "none"}`),
    el("ul", { class: "declared" },
      list(provider?.models).map((model) => el("li", {}, el("code", {}, model?.model || "?"), ` ${model?.model_type || ""}`))),
  ));
}

function renderEndpoints(groups) {
  const endpoints = groups.flatMap((group) => list(group?.endpoints));
  if (!endpoints.length) return null;
  return el("div", { class: "provider" },
    el("h4", {}, "Endpoints"),
    el("ul", { class: "declared" },
      endpoints.map((endpoint) => el("li", {}, el("code", {}, `${endpoint?.method || "?"} ${endpoint?.path || "?"}`)))));
}

function renderNamed(title, providers, field) {
  if (!providers.length) return null;
  return providers.map((provider) => el("div", { class: "provider" },
    el("h4", {}, `${title} · ${provider?.identity?.name || "?"}`),
    el("ul", { class: "declared" },
      list(provider?.[field]).map((item) => el("li", {}, el("code", {}, item?.identity?.name || item?.name || "?"))))));
}

// ---------------------------------------------------------------------------------------------------------------
// Invocation forms, built from the declared parameters
// ---------------------------------------------------------------------------------------------------------------

function renderInvocable(plugin, target) {
  const form = el("form", { class: "invoke", dataset: { kind: target.kind } });
  const output = el("div", { class: "invoke-output", "aria-live": "polite" });
  for (const parameter of target.parameters) form.append(parameterField(parameter, "parameters"));
  if (target.credentials.length) {
    form.append(el("fieldset", {}, el("legend", {}, "Credentials"),
      target.credentials.map((parameter) => parameterField(parameter, "credentials"))));
  }
  form.append(el("div", {}, el("button", { type: "submit" }, target.kind === "tool" ? "Invoke" : "Run")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    invoke(plugin, target, form, output);
  });
  const summary = target.parameters.map((p) => `${p?.name}${p?.required ? "*" : ""}: ${p?.type}`).join(", ");
  return el("details", { class: "tool", dataset: { tool: `${target.provider}/${target.name}` } },
    el("summary", {}, el("b", {}, target.name), target.description ? ` — ${target.description}` : ""),
    el("div", { class: "params" }, summary || "no parameters"),
    form, output);
}

function parameterField(parameter, group) {
  const name = parameter?.name || "";
  const type = parameter?.type || "string";
  const common = { name, dataset: { group, type }, required: Boolean(parameter?.required) };
  const fallback = parameter?.default ?? "";
  let input;
  if (type === "select" || type === "dynamic-select") {
    input = el("select", common, el("option", { value: "" }, "—"),
      list(parameter?.options).map((option) =>
        el("option", { value: option?.value, selected: option?.value === fallback }, text(option?.label) || option?.value)));
  } else if (type === "boolean" || type === "checkbox") {
    input = el("select", common, el("option", { value: "" }, "—"),
      el("option", { value: "true", selected: fallback === true }, "true"),
      el("option", { value: "false", selected: fallback === false }, "false"));
  } else if (type === "number") {
    input = el("input", { ...common, type: "number", step: "any", value: fallback, min: parameter?.min, max: parameter?.max });
  } else if (type === "secret-input") {
    input = el("input", { ...common, type: "password", autocomplete: "off" });
  } else if (type === "string" || type === "text-input") {
    input = el("textarea", { ...common, rows: 1 }, typeof fallback === "string" ? fallback : "");
  } else {
    input = el("textarea", { ...common, rows: 2, dataset: { group, type, json: "1" }, placeholder: "JSON" },
      fallback === "" ? "" : JSON.stringify(fallback));
  }
  const hint = text(parameter?.human_description) || text(parameter?.help);
  return el("label", {},
    el("span", {}, text(parameter?.label) || name, parameter?.required ? " *" : "", el("span", { class: "hint" }, ` ${type}`)),
    input,
    hint ? el("span", { class: "hint" }, hint) : null);
}

function formValues(form, group) {
  const values = {};
  for (const input of form.querySelectorAll(`[data-group="${group}"]`)) {
    const raw = input.value;
    if (raw === "") continue;
    const type = input.dataset.type;
    if (input.dataset.json) values[input.name] = JSON.parse(raw);
    else if (type === "number") values[input.name] = Number(raw);
    else if (type === "boolean" || type === "checkbox") values[input.name] = raw === "true";
    else values[input.name] = raw;
  }
  return values;
}

async function invoke(plugin, target, form, output) {
  output.replaceChildren();
  let data;
  try {
    const parameters = formValues(form, "parameters");
    data = target.kind === "tool"
      ? { provider: target.provider, tool: target.name, tool_parameters: parameters,
          credentials: formValues(form, "credentials"), credential_type: "api-key" }
      : { agent_strategy_provider: target.provider, agent_strategy: target.name, agent_strategy_params: parameters };
  } catch (error) {
    output.append(el("div", { class: "entry-error error" }, `A JSON field is not valid JSON: ${error.message}`));
    return;
  }
  const route = target.kind === "tool" ? "tool/invoke" : "agent_strategy/invoke";
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const response = await fetch(`/plugin/${encodeURIComponent(plugin.tenant_id)}/dispatch/${route}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Plugin-ID": plugin.plugin_id, ...keyHeaders() },
      body: JSON.stringify({ user_id: "dify-mock-dashboard", data }),
    });
    if (!response.ok) {
      output.append(el("div", { class: "error" }, `${response.status}: ${errorText(await response.text())}`));
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let shown = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const events = buffer.split("\n\n");
      buffer = events.pop();
      for (const raw of events) {
        const payload = raw.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trim()).join("\n");
        if (!payload) continue;
        const event = JSON.parse(payload);
        if (event.code !== 0) {
          output.append(el("div", { class: "error" }, `error: ${errorText(event.message)}`));
        } else if (shown++ < MAX_CHUNKS_SHOWN) {
          output.append(el("div", { class: "chunk" }, describeChunk(event.data)));
        }
      }
    }
    output.append(el("div", { class: "muted done" }, "done"));
  } catch (error) {
    output.append(el("div", { class: "error" }, `failed: ${error.message}`));
  } finally {
    button.disabled = false;
  }
}

// The daemon nests errors as JSON inside JSON: show the innermost message.
function errorText(message) {
  let current = message;
  for (let depth = 0; depth < 4 && typeof current === "string"; depth++) {
    try {
      const parsed = JSON.parse(current);
      if (!parsed || typeof parsed !== "object" || !("message" in parsed)) break;
      const prefix = parsed.error_type && parsed.error_type !== "PluginInvokeError" ? `${parsed.error_type}: ` : "";
      if (typeof parsed.message !== "string" || !parsed.message.startsWith("{")) return prefix + parsed.message;
      current = parsed.message;
    } catch {
      break;
    }
  }
  return String(current);
}

// ---------------------------------------------------------------------------------------------------------------
// The journal: each call, live
// ---------------------------------------------------------------------------------------------------------------

function describeChunk(chunk) {
  if (chunk === null || typeof chunk !== "object") return JSON.stringify(chunk);
  const message = chunk.message;
  if (chunk.type === "text" && message) return message.text ?? "";
  if (chunk.type === "json" && message) return JSON.stringify(message.json_object);
  if (chunk.type && message && typeof message === "object") return `${chunk.type}: ${JSON.stringify(message)}`;
  const delta = chunk.delta?.message;
  if (delta) {
    const calls = list(delta.tool_calls).map((call) => `→ ${call?.function?.name}(${call?.function?.arguments})`);
    return [typeof delta.content === "string" ? delta.content : JSON.stringify(delta.content), ...calls].filter(Boolean).join(" ");
  }
  if (typeof chunk.result === "string") {
    const cut = /\((\d+) characters\)$/.exec(chunk.result);
    return `audio chunk: ${Math.floor((cut ? Number(cut[1]) : chunk.result.length) / 2)} bytes`;
  }
  return JSON.stringify(chunk);
}

function chunkText(chunk) {
  const content = chunk?.delta?.message?.content;
  if (typeof content === "string") return content;
  if (chunk?.type === "text" && typeof chunk?.message?.text === "string") return chunk.message.text;
  return "";
}

function answeredSource(data) {
  if (data.error) return "failed";
  return (data.answered_by || "").startsWith("rule:") ? "rule" : data.answered_by || "";
}

function upsertEntry(data) {
  let item = state.entries.get(data.id);
  if (!item) {
    item = createEntry(data);
    for (const chunk of list(data.response)) appendChunk(item, chunk);
  } else if (data.done && item.shown === 0 && item.more === 0) {
    for (const chunk of list(data.response)) appendChunk(item, chunk);
  }
  item.data = { ...item.data, ...data, response: undefined };
  const node = item.element;
  node.dataset.state = data.error ? "error" : data.done ? "ok" : "running";
  $(".state", node).textContent = data.error ? "error" : data.done ? "ok" : "running…";
  const answered = $(".answered", node);
  answered.textContent = data.answered_by || "";
  answered.dataset.source = answeredSource(data);
  $(".rule-file", node).textContent = data.rule || "";
  $(".duration", node).textContent = data.duration_ms === null || data.duration_ms === undefined ? "" : `${data.duration_ms} ms`;
  const error = $(".error", node);
  error.textContent = data.error || "";
  error.hidden = !data.error;
  if (data.done && AUDIO_TYPES.has(data.type) && !data.error && !$("audio", node)) {
    node.append(el("audio", { controls: true, preload: "none", src: withKey(`/mock/journal/${data.id}/audio`) }));
  }
  applyFilter(item);
  updateSummary();
}

function createEntry(data) {
  const time = new Date(data.time * 1000);
  const clock = `${time.toLocaleTimeString([], { hour12: false })}.${String(time.getMilliseconds()).padStart(3, "0")}`;
  const element = el("li", { class: "entry", dataset: { entryId: data.id, kind: data.kind, type: data.type, plugin: data.plugin_id } },
    el("div", { class: "line" },
      el("time", {}, clock),
      el("span", { class: "kind" }, KIND_LABELS[data.kind] || data.kind),
      el("span", { class: "type" }, data.type),
      el("span", { class: "plugin-id" }, data.plugin_id),
      el("span", { class: "answered" }),
      el("span", { class: "rule-file muted", title: "the fixture rule's file and line" }),
      el("span", { class: "duration" }),
      el("span", { class: "state" })),
    el("div", { class: "error", hidden: true }),
    el("details", {}, el("summary", { class: "muted" }, "request"), el("pre", { class: "request" }, JSON.stringify(data.request, null, 2))),
    el("div", { class: "text" }),
    el("ol", { class: "chunks" }),
  );
  const item = { data, element, shown: 0, more: 0, text: "" };
  state.entries.set(data.id, item);
  // Newest first: place by id, since history and live events may interleave.
  const after = [...$("#entries").children].find((node) => Number(node.dataset.entryId) < data.id);
  $("#entries").insertBefore(element, after || null);
  while (state.entries.size > MAX_ENTRIES) {
    const oldest = Math.min(...state.entries.keys());
    state.entries.get(oldest).element.remove();
    state.entries.delete(oldest);
  }
  return item;
}

function addChunk({ id, chunk }) {
  const item = state.entries.get(id);
  if (item) appendChunk(item, chunk);
}

function appendChunk(item, chunk) {
  const piece = chunkText(chunk);
  if (piece && item.text.length < MAX_TEXT) {
    item.text += piece;
    $(".text", item.element).textContent = item.text;
  }
  const chunks = $(".chunks", item.element);
  if (item.shown < MAX_CHUNKS_SHOWN) {
    chunks.append(el("li", { class: "chunk" }, describeChunk(chunk)));
    item.shown++;
    return;
  }
  item.more++;
  let more = $(".more", chunks);
  if (!more) {
    more = el("li", { class: "more muted" });
    chunks.append(more);
  }
  more.textContent = `… ${item.more} more chunks (GET /mock/journal/${item.data.id} has them all)`;
}

function applyFilter(item) {
  const wanted = $("#filter-text").value.trim().toLowerCase();
  const errorsOnly = $("#errors-only").checked;
  const data = item.data;
  const haystack = `${data.kind} ${data.type} ${data.plugin_id} ${data.answered_by || ""} ${data.rule || ""} ${data.error || ""}`.toLowerCase();
  item.element.hidden = (errorsOnly && !data.error) || (wanted !== "" && !haystack.includes(wanted));
}

$("#filter-text").addEventListener("input", () => state.entries.forEach(applyFilter));
$("#errors-only").addEventListener("change", () => state.entries.forEach(applyFilter));
$("#clear-view").addEventListener("click", () => {
  for (const item of state.entries.values()) item.element.remove();
  state.entries.clear();
  updateSummary();
});

start().catch((error) => setStatus("disconnected", `cannot reach the mock: ${error.message}`));
