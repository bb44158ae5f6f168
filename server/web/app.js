// The web chat of `r1 serve`. Plain modern JavaScript, no build step, no outside URL.
//
// What it speaks (every request carries `Authorization: Bearer KEY` when a key is set):
//   GET  /v1/models                      {"object":"list","data":[{"id":..., "capabilities"?:
//                                         ["chat"] or ["embeddings"]}]}
//   GET  /v1/agents                      {"object":"list","data":[{"name":...,"description":...}]}
//   POST /v1/chat/completions            {model, messages, stream: true,
//                                         stream_options: {include_usage: true},
//                                         thinking_budget?, max_tokens?,
//                                         chat_template_kwargs?: {enable_thinking: true}}
//     -> SSE: `data: {chat.completion.chunk}` ... `data: [DONE]`; a delta carries
//        reasoning_content (before content), content, tool_calls [{index, id?, function}];
//        the last chunk before [DONE] has `usage` and no choices.
//   POST /v1/agents/NAME/runs            {input, stream: true, session_id?}
//     -> SSE: `data: {event, run_id, step, ...}` ... `data: [DONE]`, events run_start,
//        step_start, reasoning, content, tool_call, tool_call_error, policy,
//        approval_required, tool_result, final (see the server's agent protocol).
//   POST /v1/agents/NAME/runs/RUN/approvals  {approval_id, approve} -> 200
// Errors are OpenAI error objects {"error": {"message", "type", "code"}}, as a response body or
// as one `data:` line inside a stream. Server text only ever reaches the page as textContent.
'use strict';

const kKeyStorage = 'r1.apiKey';
const kTargetStorage = 'r1.target';
const kLongResultChars = 400;  // tool results longer than this start collapsed
const kLongResultLines = 8;
// What a `policy` event's decision means, as the tool card says it.
const kDecisionWords = {
  allow: 'Allowed by policy',
  deny: 'Denied by policy',
  ask: 'Policy asks for approval',
  approved: 'Approved',
  denied: 'Denied',
};

const ui = {};
const state = {
  history: [],          // OpenAI messages of the model conversation
  sessions: new Map(),  // agent name -> session_id of its conversation
  controller: null,     // AbortController of the request in flight
};

// ---- small helpers ----------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'class') node.className = value;
    else if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function authHeaders(extra = {}) {
  const headers = {...extra};
  const key = ui.apiKey.value.trim();
  if (key) headers.Authorization = 'Bearer ' + key;
  return headers;
}

function showStatus(message) {
  ui.status.textContent = message;
  ui.status.hidden = !message;
}

// A readable message for a failed response: the OpenAI error's message, with a hint for 401.
async function errorMessage(response) {
  let detail = '';
  try {
    const body = await response.text();
    try {
      const parsed = JSON.parse(body);
      detail = (parsed && parsed.error && parsed.error.message) || body;
    } catch {
      detail = body;
    }
  } catch {
    // the body could not be read; the status says enough
  }
  detail = detail.trim().slice(0, 500);
  if (response.status === 401) {
    return 'The server refused the API key (401): enter a valid key in the "API key" field.' +
           (detail ? ' Server said: ' + detail : '');
  }
  if (response.status === 403) {
    return 'This API key may not use that (403).' + (detail ? ' ' + detail : '');
  }
  return `HTTP ${response.status}` + (detail ? ': ' + detail : '');
}

function prettyArguments(text) {
  if (typeof text !== 'string') return JSON.stringify(text, null, 2);
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;  // not JSON (yet, while streaming): show it as it is
  }
}

function optionalInt(input) {
  const raw = input.value.trim();
  if (raw === '') return null;
  const value = Number(raw);
  return Number.isInteger(value) ? value : NaN;
}

// ---- SSE over a fetch response ------------------------------------------------------------

// Calls onData(parsed JSON) for each `data:` event until `data: [DONE]`. Returns true when
// [DONE] arrived, false when the stream ended without it.
async function readSse(response, onData) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const handle = (block) => {
    const data = block.split('\n')
                     .filter((line) => line.startsWith('data:'))
                     .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
                     .join('\n');
    if (data === '') return false;  // a comment or an event with no data
    if (data.trim() === '[DONE]') return true;
    let parsed;
    try {
      parsed = JSON.parse(data);
    } catch {
      throw new Error('The server sent an event that is not JSON: ' + data.slice(0, 200));
    }
    onData(parsed);
    return false;
  };
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {stream: true});
    // A "\r" at the end may be the first half of "\r\n": keep it for the next chunk.
    const keep = buffer.endsWith('\r') ? 1 : 0;
    let text = buffer.slice(0, buffer.length - keep).replace(/\r\n?/g, '\n');
    const tail = buffer.slice(buffer.length - keep);
    let cut;
    while ((cut = text.indexOf('\n\n')) >= 0) {
      const block = text.slice(0, cut);
      text = text.slice(cut + 2);
      if (handle(block)) {
        reader.cancel().catch(() => {});
        return true;
      }
    }
    buffer = text + tail;
  }
  buffer += decoder.decode();
  return buffer.trim() !== '' && handle(buffer.replace(/\r\n?/g, '\n').trim());
}

// ---- the conversation view ----------------------------------------------------------------

function scrollToEnd() {
  window.scrollTo(0, document.body.scrollHeight);
}

function addUserMessage(text) {
  ui.messages.append(el('div', {class: 'message user', 'data-testid': 'user-message'},
                        el('div', {class: 'who', text: 'You'}),
                        el('div', {class: 'text', text})));
  scrollToEnd();
}

function citationLabel(c) {
  if (typeof c === 'string') return c;
  if (!c || typeof c !== 'object') return String(c);
  let label = c.source || '(unknown source)';
  if (c.page !== undefined && c.page !== null) label += `, page ${c.page}`;
  else if (c.start !== undefined && c.end !== undefined) label += `, bytes ${c.start}-${c.end}`;
  if (typeof c.score === 'number') label += ` (score ${c.score.toFixed(3)})`;
  return label;
}

// One assistant turn: reasoning blocks and tool cards in the order they happened (the trace),
// then the answer, its sources and a small usage line.
class AssistantTurn {
  constructor(title) {
    this.trace = el('div', {class: 'trace'});
    this.answer = el('div', {class: 'answer', 'data-testid': 'answer'});
    this.sourceList = el('ol', {class: 'sources-list'});
    this.sources = el('div', {class: 'sources', 'data-testid': 'sources', hidden: ''},
                      el('div', {class: 'label', text: 'Sources'}), this.sourceList);
    this.meta = el('p', {class: 'usage', 'data-testid': 'usage'});
    // aria-busy: screen readers wait for the finished turn instead of reading every token.
    this.root = el('div', {class: 'message assistant streaming', 'data-testid': 'assistant-message',
                           'aria-busy': 'true'},
                   el('div', {class: 'who', text: title}), this.trace, this.answer, this.sources,
                   this.meta);
    this.reasoningBlocks = new Map();  // step -> {details, text, summary}
    this.cards = new Map();            // call id -> card
    this.citations = new Set();
    ui.messages.append(this.root);
    scrollToEnd();
  }

  appendReasoning(text, step = 0) {
    let block = this.reasoningBlocks.get(step);
    if (!block) {
      const summary = el('summary', {text: 'Thinking…'});
      const body = el('div', {class: 'reasoning-text', 'data-testid': 'reasoning-text'});
      const details = el('details', {class: 'reasoning', 'data-testid': 'reasoning', open: ''},
                         summary, body);
      block = {details, body, summary, done: false};
      this.reasoningBlocks.set(step, block);
      this.trace.append(details);
    }
    block.body.textContent += text;
    scrollToEnd();
  }

  // Reasoning is open while it streams and collapsed once the model moves on.
  closeReasoning() {
    for (const block of this.reasoningBlocks.values()) {
      if (block.done) continue;
      block.done = true;
      block.details.open = false;
      block.summary.textContent = 'Reasoning';
    }
  }

  appendAnswer(text) {
    this.closeReasoning();
    this.answer.textContent += text;
    scrollToEnd();
  }

  // Text the model wrote in a step that went on to call tools moves into the trace.
  keepStepText() {
    const text = this.answer.textContent;
    if (text.trim()) this.trace.append(el('p', {class: 'step-text', text}));
    this.answer.textContent = '';
  }

  card(call) {
    const id = call.id || `call-${this.cards.size}`;
    let card = this.cards.get(id);
    if (card) return card;
    const name = el('span', {class: 'tool-name', text: call.name || 'tool'});
    const status = el('span', {class: 'tool-status', 'data-testid': 'tool-status', text: 'called'});
    const args = el('pre', {class: 'tool-args', 'data-testid': 'tool-args'});
    const notes = el('div', {class: 'tool-notes'});
    const root = el('section', {class: 'tool-card', 'data-testid': 'tool-card', 'data-call-id': id,
                               'data-status': 'called', 'aria-label': 'Tool call'},
                    el('header', {}, el('span', {class: 'tool-icon', 'aria-hidden': 'true', text: '⚙'}),
                       name, status),
                    args, notes);
    card = {root, name, status, args, notes};
    this.cards.set(id, card);
    this.closeReasoning();
    this.trace.append(root);
    scrollToEnd();
    return card;
  }

  setCardStatus(card, status, label = status) {
    card.root.dataset.status = status;
    card.status.textContent = label;
  }

  addCitations(list) {
    if (!Array.isArray(list)) return;
    for (const c of list) {
      const label = citationLabel(c).trim();
      if (!label || this.citations.has(label)) continue;
      this.citations.add(label);
      this.sourceList.append(el('li', {class: 'citation', 'data-testid': 'citation', text: label}));
    }
    this.sources.hidden = this.citations.size === 0;
  }

  showError(message) {
    this.root.append(el('p', {class: 'error', 'data-testid': 'error', role: 'alert', text: message}));
    scrollToEnd();
  }

  note(text) {
    this.root.append(el('p', {class: 'note', text}));
  }

  finish() {
    this.closeReasoning();
    this.root.classList.remove('streaming');
    this.root.setAttribute('aria-busy', 'false');
  }
}

// ---- targets ----------------------------------------------------------------------------

async function fetchList(path) {
  const response = await fetch(path, {headers: authHeaders()});
  if (response.status === 404) return [];  // a server without agents
  if (!response.ok) throw new Error(await errorMessage(response));
  const body = await response.json();
  return Array.isArray(body.data) ? body.data : [];
}

async function loadTargets() {
  const previous = ui.target.value || localStorage.getItem(kTargetStorage) || '';
  let models = [];
  let agents = [];
  try {
    [models, agents] = await Promise.all([fetchList('/v1/models'), fetchList('/v1/agents')]);
    showStatus('');
  } catch (err) {
    showStatus('Could not list models and agents. ' + err.message);
    // What was listed before stays usable; a first failure says why the list is empty.
    if (![...ui.target.options].some((o) => o.value)) {
      ui.target.replaceChildren(el('option', {value: '', text: '(could not list them)'}));
    }
    return;
  }
  ui.target.replaceChildren();
  const modelGroup = el('optgroup', {label: 'Models'});
  for (const m of models) {
    if (!m || typeof m.id !== 'string') continue;
    // A model the server marks as not for chat (the embedding model) is left out.
    if (Array.isArray(m.capabilities) && !m.capabilities.includes('chat')) continue;
    modelGroup.append(el('option', {value: 'model:' + m.id, text: m.id}));
  }
  const agentGroup = el('optgroup', {label: 'Agents'});
  for (const a of agents) {
    if (!a || typeof a.name !== 'string') continue;
    const option = el('option', {value: 'agent:' + a.name, text: 'agent: ' + a.name});
    if (a.description) option.title = a.description;
    agentGroup.append(option);
  }
  if (modelGroup.children.length) ui.target.append(modelGroup);
  if (agentGroup.children.length) ui.target.append(agentGroup);
  if (!ui.target.options.length) {
    ui.target.append(el('option', {value: '', text: '(nothing to talk to)'}));
  }
  if ([...ui.target.options].some((o) => o.value === previous)) ui.target.value = previous;
}

// ---- talking to a model -----------------------------------------------------------------

async function chatWithModel(model, text) {
  const budget = optionalInt(ui.thinkingBudget);
  const maxTokens = optionalInt(ui.maxTokens);
  if (Number.isNaN(budget) || Number.isNaN(maxTokens)) {
    showStatus('Thinking budget and max tokens must be whole numbers.');
    return;
  }
  addUserMessage(text);
  state.history.push({role: 'user', content: text});
  const body = {
    model,
    messages: state.history,
    stream: true,
    stream_options: {include_usage: true},
  };
  if (budget !== null) body.thinking_budget = budget;
  if (maxTokens !== null) body.max_tokens = maxTokens;
  if (ui.enableThinking.checked) body.chat_template_kwargs = {enable_thinking: true};

  const turn = new AssistantTurn(model);
  const calls = [];  // tool calls by index: {id, name, arguments}
  let finishReason = '';
  let usage = null;
  let failed = false;
  try {
    const response = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: authHeaders({'Content-Type': 'application/json', Accept: 'text/event-stream'}),
      body: JSON.stringify(body),
      signal: state.controller.signal,
    });
    if (!response.ok) throw new Error(await errorMessage(response));
    const complete = await readSse(response, (chunk) => {
      if (chunk.error) throw new Error(chunk.error.message || JSON.stringify(chunk.error));
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices || []) {
        const delta = choice.delta || {};
        if (typeof delta.reasoning_content === 'string' && delta.reasoning_content) {
          turn.appendReasoning(delta.reasoning_content);
        }
        if (typeof delta.content === 'string' && delta.content) turn.appendAnswer(delta.content);
        for (const part of delta.tool_calls || []) {
          const index = Number.isInteger(part.index) ? part.index : calls.length;
          const call = calls[index] || (calls[index] = {id: part.id || `call-${index}`, name: '', arguments: ''});
          const fn = part.function || {};
          if (fn.name) call.name += fn.name;
          if (fn.arguments) call.arguments += fn.arguments;
          const card = turn.card({id: call.id, name: call.name});
          card.name.textContent = call.name;
          card.args.textContent = prettyArguments(call.arguments);
        }
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
    });
    if (!complete) throw new Error('The stream ended before the server said it was done.');
  } catch (err) {
    failed = true;
    if (err.name === 'AbortError') turn.note('Stopped.');
    else turn.showError(err.message);
  }
  turn.finish();
  const answer = turn.answer.textContent;
  if (failed && !answer) {
    state.history.pop();  // nothing came back: the question can be asked again
  } else {
    state.history.push({role: 'assistant', content: answer});
  }
  if (finishReason === 'length') turn.note('The answer was cut at the token limit.');
  if (usage) {
    const reasoning = (usage.completion_tokens_details || {}).reasoning_tokens;
    turn.meta.textContent = `${usage.prompt_tokens ?? '?'} prompt + ${usage.completion_tokens ?? '?'}` +
                            ' completion tokens' +
                            (reasoning ? `, ${reasoning} of them reasoning` : '');
  }
}

// ---- running an agent -------------------------------------------------------------------

// The runtime lists the sources the model saw under its answer ("\n\nSources:\n[1] ...").
function splitSources(text) {
  const match = /\n\s*Sources:\s*\n([\s\S]*)$/.exec(text);
  if (!match) return {answer: text, sources: []};
  // "[1] path:page 3": the list numbers its items itself.
  const sources = match[1].split('\n').map((line) => line.trim().replace(/^\[\d+\]\s*/, ''))
                      .filter(Boolean);
  return {answer: text.slice(0, match.index), sources};
}

function resultBlock(text, status) {
  const lines = text.split('\n').length;
  const long = text.length > kLongResultChars || lines > kLongResultLines;
  const summaryText = long ? `Result (${text.length} characters)` : 'Result';
  const details = el('details', {class: 'tool-result', 'data-testid': 'tool-result'},
                     el('summary', {text: summaryText}),
                     el('pre', {class: 'tool-result-text', text: text || '(empty)'}));
  if (!long) details.open = true;
  details.dataset.status = status;
  return details;
}

async function approve(agent, runId, approvalId, allow, card, buttons) {
  for (const b of buttons) b.disabled = true;
  try {
    const response = await fetch(
        `/v1/agents/${encodeURIComponent(agent)}/runs/${encodeURIComponent(runId)}/approvals`, {
          method: 'POST',
          headers: authHeaders({'Content-Type': 'application/json'}),
          body: JSON.stringify({approval_id: approvalId, approve: allow}),
        });
    if (!response.ok) throw new Error(await errorMessage(response));
    card.approval.replaceChildren(el('span', {class: 'decision', 'data-testid': 'decision',
                                              text: allow ? 'You approved this call.' : 'You denied this call.'}));
    // The run may already have moved on (the result arrives as fast as this answer does).
    if (card.root.dataset.status === 'waiting') card.setStatus(allow ? 'approved' : 'denied');
  } catch (err) {
    card.approval.append(el('p', {class: 'error', role: 'alert', text: 'Could not send the decision: ' + err.message}));
    for (const b of buttons) b.disabled = false;
  }
}

async function runAgent(agent, text) {
  addUserMessage(text);
  const body = {input: text, stream: true};
  const session = state.sessions.get(agent);
  if (session) body.session_id = session;
  const turn = new AssistantTurn('agent: ' + agent);
  let runId = '';
  let step = -1;
  let stepHasCalls = false;
  let finalEvent = null;
  const cardFor = (call) => {
    const card = turn.card(call || {});
    card.setStatus = (s, label) => turn.setCardStatus(card, s, label);
    return card;
  };
  try {
    const response = await fetch(`/v1/agents/${encodeURIComponent(agent)}/runs`, {
      method: 'POST',
      headers: authHeaders({'Content-Type': 'application/json', Accept: 'text/event-stream'}),
      body: JSON.stringify(body),
      signal: state.controller.signal,
    });
    if (!response.ok) throw new Error(await errorMessage(response));
    const complete = await readSse(response, (ev) => {
      if (ev.error && !ev.event) throw new Error(ev.error.message || JSON.stringify(ev.error));
      if (ev.run_id) runId = ev.run_id;
      const evStep = Number.isInteger(ev.step) ? ev.step : step;
      switch (ev.event) {
        case 'run_start':
          turn.root.dataset.runId = ev.run_id || '';
          break;
        case 'step_start':
          if (stepHasCalls) turn.keepStepText();
          step = evStep;
          stepHasCalls = false;
          break;
        case 'reasoning':
          turn.appendReasoning(ev.text || '', evStep);
          break;
        case 'content':
          turn.appendAnswer(ev.text || '');
          break;
        case 'tool_call': {
          if (!stepHasCalls) turn.keepStepText();
          stepHasCalls = true;
          const card = cardFor(ev.call);
          card.args.textContent = prettyArguments((ev.call || {}).arguments ?? '');
          card.setStatus('called', 'called');
          break;
        }
        case 'tool_call_error':
          turn.closeReasoning();
          turn.trace.append(el('p', {class: 'error tool-call-error', text: 'Malformed tool call: ' + (ev.text || '')}));
          break;
        case 'policy': {
          const card = cardFor(ev.call);
          const reason = ev.reason ? ` (${ev.reason})` : '';
          const words = kDecisionWords[ev.decision] || `Policy: ${ev.decision || '?'}`;
          card.notes.append(el('p', {class: 'policy', 'data-decision': ev.decision || '',
                                     text: words + reason}));
          if (ev.decision === 'deny' || ev.decision === 'denied') card.setStatus('denied');
          break;
        }
        case 'approval_required': {
          const card = cardFor(ev.call);
          if (ev.call && ev.call.arguments !== undefined && !card.args.textContent) {
            card.args.textContent = prettyArguments(ev.call.arguments);
          }
          const yes = el('button', {type: 'button', class: 'approve', 'data-testid': 'approve', text: 'Approve'});
          const no = el('button', {type: 'button', class: 'deny', 'data-testid': 'deny', text: 'Deny'});
          card.approval = el('div', {class: 'approval', 'data-testid': 'approval'},
                             el('p', {text: 'Needs your approval' + (ev.reason ? `: ${ev.reason}` : '.')}),
                             yes, no);
          const run = ev.run_id || runId;
          yes.addEventListener('click', () => approve(agent, run, ev.approval_id, true, card, [yes, no]));
          no.addEventListener('click', () => approve(agent, run, ev.approval_id, false, card, [yes, no]));
          card.notes.append(card.approval);
          card.setStatus('waiting', 'waiting for approval');
          yes.focus({preventScroll: true});
          scrollToEnd();
          break;
        }
        case 'tool_result': {
          const card = cardFor(ev.call);
          const status = ev.status || 'ok';
          card.setStatus(status);
          if (card.approval) card.approval.querySelectorAll('button').forEach((b) => b.remove());
          card.root.append(resultBlock(ev.text || '', status));
          turn.addCitations(ev.citations);
          scrollToEnd();
          break;
        }
        case 'final':
          finalEvent = ev;
          break;
        case 'error':
          throw new Error((ev.error && ev.error.message) || 'the run failed');
        default:
          break;  // an event this page does not know yet
      }
    });
    if (!complete) throw new Error('The stream ended before the server said it was done.');
  } catch (err) {
    if (err.name === 'AbortError') turn.note('Stopped.');
    else turn.showError(err.message);
  }
  if (finalEvent) {
    const {answer, sources} = splitSources(finalEvent.text || '');
    if (answer.trim() || !turn.answer.textContent.trim()) turn.answer.textContent = answer;
    turn.addCitations(sources);
    if (finalEvent.session_id) {
      state.sessions.set(agent, finalEvent.session_id);
      turn.root.dataset.sessionId = finalEvent.session_id;
    }
    if (finalEvent.stop_reason && finalEvent.stop_reason !== 'final') {
      turn.note(`The run stopped: ${finalEvent.stop_reason}` +
                (finalEvent.error ? ` (${finalEvent.error})` : '') + '.');
    }
    const facts = [`run ${runId}`];
    const count = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
    if (Number.isInteger(finalEvent.steps)) facts.push(count(finalEvent.steps, 'step'));
    if (Number.isInteger(finalEvent.tool_calls)) facts.push(count(finalEvent.tool_calls, 'tool call'));
    if (Number.isInteger(finalEvent.tokens)) facts.push(count(finalEvent.tokens, 'token'));
    if (finalEvent.session_id) facts.push(`session ${finalEvent.session_id}`);
    turn.meta.textContent = facts.join(' · ');
  }
  // Buttons of approvals the run no longer waits for would do nothing.
  turn.root.querySelectorAll('.approval button').forEach((b) => { b.disabled = true; });
  turn.finish();
}

// ---- wiring -----------------------------------------------------------------------------

function setBusy(busy) {
  ui.send.disabled = busy;
  ui.stop.hidden = !busy;
  document.body.classList.toggle('busy', busy);
}

async function send(event) {
  event.preventDefault();
  if (state.controller) return;
  const text = ui.prompt.value.trim();
  if (!text) {
    ui.prompt.focus();
    return;
  }
  if (!ui.target.value) await loadTargets();
  const target = ui.target.value;
  if (!target) {
    showStatus('Pick a model or an agent to talk to first.');
    return;
  }
  showStatus('');
  ui.prompt.value = '';
  state.controller = new AbortController();
  setBusy(true);
  try {
    if (target.startsWith('agent:')) await runAgent(target.slice(6), text);
    else await chatWithModel(target.slice(6), text);
  } finally {
    state.controller = null;
    setBusy(false);
    ui.prompt.focus();
  }
}

function newChat() {
  if (state.controller) state.controller.abort();
  state.history = [];
  state.sessions.clear();
  ui.messages.replaceChildren();
  showStatus('');
}

document.addEventListener('DOMContentLoaded', () => {
  for (const [name, id] of [['apiKey', 'api-key'], ['target', 'target'], ['refresh', 'refresh'],
                            ['enableThinking', 'enable-thinking'], ['thinkingBudget', 'thinking-budget'],
                            ['maxTokens', 'max-tokens'], ['newChat', 'new-chat'], ['status', 'status'],
                            ['messages', 'messages'], ['composer', 'composer'], ['prompt', 'prompt'],
                            ['send', 'send'], ['stop', 'stop']]) {
    ui[name] = document.getElementById(id);
  }
  ui.apiKey.value = localStorage.getItem(kKeyStorage) || '';
  ui.apiKey.addEventListener('input', () => localStorage.setItem(kKeyStorage, ui.apiKey.value.trim()));
  ui.apiKey.addEventListener('change', loadTargets);
  ui.refresh.addEventListener('click', loadTargets);
  ui.target.addEventListener('change', () => {
    localStorage.setItem(kTargetStorage, ui.target.value);
    newChat();  // a model's history and an agent's session do not carry over to another
  });
  ui.newChat.addEventListener('click', newChat);
  ui.stop.addEventListener('click', () => state.controller && state.controller.abort());
  ui.composer.addEventListener('submit', send);
  ui.prompt.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      ui.composer.requestSubmit();
      event.preventDefault();
    }
  });
  loadTargets();
});
