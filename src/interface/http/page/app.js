// The dashboard of `anquan serve`: reads the figures through /v1 with the session's bearer token,
// draws them (inline SVG, no library), and follows /v1/events/live to read them again after each
// event. It holds no figure of its own: every number shown is a field of an API answer.
"use strict";

const TOKEN_KEY = "anquan.token";
const LANG_KEY = "anquan.lang";
// Events come in bursts (a command writes several): the figures are read again once the burst
// has passed, at most this long after its last event.
const DEBOUNCE_MS = 250;
const RECONNECT_MS = 2000;
const LATEST_EVENTS = 12;
const MAX_ROWS = 12;
// Amber: consumption of the control indicator within this many points below time elapsed.
const AMBER_POINTS = 10;

const WORDS = {
  en: {
    title: "District safety dashboard",
    district: "Whole district",
    back: "back to the whole district",
    offline: "not connected",
    live_on: "live",
    live_retry: "reconnecting…",
    forget_token: "change token",
    basis: (on, n) => `figures for ${on} · ${n} events`,
    tile_incidents: "Incidents this year",
    tile_deaths: "Deaths this year",
    tile_open: "Open hazards",
    tile_overdue: "Overdue hazards",
    tile_four: "四不放过 (four don't-let-go) incomplete",
    tile_indicator: "Control indicator used",
    vs_last: (n, y) => `${y} same period: ${n}`,
    major_of: (n) => `of which major: ${n}`,
    overdue_note: "past the rectification deadline",
    four_tile_note: "incidents with a condition missing",
    elapsed_note: (e) => `time elapsed: ${e}`,
    no_indicator: "no control indicator set",
    cat_title: (y, b, period) => `Incidents by category: ${y} against ${b} (${period})`,
    cat_axis: "incidents (count)",
    cat_empty: "No incidents in either period.",
    same_period: "same period",
    whole_year: "whole year",
    ind_title_district: (y) => `Control indicator (deaths) used against time elapsed, by community, ${y}`,
    ind_title_community: (y) => `Control indicator (deaths) used against time elapsed, by category, ${y}`,
    ind_axis: "share of the year's death limit used (%)",
    ind_empty: "No control indicator is set for this year.",
    elapsed_line: (e) => `time elapsed ${e}`,
    ind_value: (p, d, l) => `${p} (${d} of ${l} ${l === 1 ? "death" : "deaths"})`,
    rag_green: `green: more than ${AMBER_POINTS} points below time elapsed`,
    rag_amber: `amber: within ${AMBER_POINTS} points of time elapsed`,
    rag_red: "red: ahead of time elapsed",
    rows_hint: "click a community to see its figures",
    haz_title: (on) => `Open hazards by category on ${on}`,
    haz_axis: "open hazards (count)",
    haz_empty: "No open hazards.",
    open_series: "open hazards",
    overdue_title: "Overdue hazards, most overdue first",
    overdue_none: "No hazard is overdue.",
    four_title: "Incidents with 四不放过 (the four don't-let-go) incomplete",
    four_note: "Newest first; the conditions listed are those not yet met.",
    four_none: "Every incident has all four conditions met.",
    events_title: "Latest events",
    events_title_all: "Latest events of the whole district",
    incidents_title: (c) => `Incidents in ${c}`,
    incidents_none: "No incidents recorded in this community.",
    col_status: "Status",
    closed: "closed",
    open: "open",
    events_none: "No events yet.",
    col_hazard: "Hazard",
    col_community: "Community",
    col_grade: "Grade",
    col_deadline: "Deadline",
    col_days_overdue: "Days overdue",
    col_incident: "Incident",
    col_date: "Occurred",
    col_category: "Category",
    col_casualties: "Deaths / injuries",
    col_missing: "Conditions not met",
    col_days_open: "Days open",
    col_time: "Recorded (Beijing time)",
    col_event: "Event",
    col_stream: "Record",
    col_actor: "By",
    more_rows: (n) => `and ${n} more`,
    investigation_overdue: "investigation overdue",
    grades: { general: "general", major: "major", ungraded: "not graded" },
    four: {
      cause_determined: "cause determined",
      responsible_dealt_with: "those responsible dealt with",
      corrective_measures_implemented: "corrective measures implemented",
      education_conducted: "education conducted",
    },
    token_title: "Sign in with a token",
    token_help: "Paste the bearer token made by `anquan token`. It is kept for this browser session only.",
    token_refused: "The service refused this token. Paste another.",
    token_submit: "Open the dashboard",
  },
  zh: {
    title: "辖区安全生产态势",
    district: "全辖区",
    back: "返回全辖区",
    offline: "未连接",
    live_on: "实时",
    live_retry: "正在重新连接…",
    forget_token: "更换令牌",
    basis: (on, n) => `统计日期 ${on} · 共 ${n} 条事件`,
    tile_incidents: "本年事故起数",
    tile_deaths: "本年死亡人数",
    tile_open: "未整改隐患",
    tile_overdue: "逾期未整改隐患",
    tile_four: "“四不放过”未落实",
    tile_indicator: "控制指标进度",
    vs_last: (n, y) => `${y}年同期：${n}`,
    major_of: (n) => `其中重大隐患：${n}`,
    overdue_note: "已超过整改期限",
    four_tile_note: "尚有条件未落实的事故",
    elapsed_note: (e) => `时序进度：${e}`,
    no_indicator: "未下达控制指标",
    cat_title: (y, b, period) => `分类别事故起数：${y}年与${b}年对比（${period}）`,
    cat_axis: "事故起数（起）",
    cat_empty: "两个时段均无事故。",
    same_period: "同期",
    whole_year: "全年",
    ind_title_district: (y) => `${y}年死亡控制指标进度与时序进度（按社区）`,
    ind_title_community: (y) => `${y}年死亡控制指标进度与时序进度（按类别）`,
    ind_axis: "控制指标已用比例（%）",
    ind_empty: "本年未下达控制指标。",
    elapsed_line: (e) => `时序进度 ${e}`,
    ind_value: (p, d, l) => `${p}（${d}/${l}人）`,
    rag_green: `绿：低于时序进度${AMBER_POINTS}个百分点以上`,
    rag_amber: `黄：距时序进度不足${AMBER_POINTS}个百分点`,
    rag_red: "红：超过时序进度",
    rows_hint: "点击社区名称查看该社区",
    haz_title: (on) => `${on}未整改隐患（按类别）`,
    haz_axis: "未整改隐患（项）",
    haz_empty: "无未整改隐患。",
    open_series: "未整改隐患",
    overdue_title: "逾期隐患（按逾期天数排序）",
    overdue_none: "没有逾期隐患。",
    four_title: "“四不放过”未落实的事故",
    four_note: "按发生时间由近及远；列出的是尚未落实的条件。",
    four_none: "所有事故均已落实“四不放过”。",
    events_title: "最新事件",
    events_title_all: "全辖区最新事件",
    incidents_title: (c) => `${c}的事故`,
    incidents_none: "该社区没有事故记录。",
    col_status: "状态",
    closed: "已结案",
    open: "未结案",
    events_none: "暂无事件。",
    col_hazard: "隐患",
    col_community: "社区",
    col_grade: "等级",
    col_deadline: "整改期限",
    col_days_overdue: "逾期天数",
    col_incident: "事故",
    col_date: "发生日期",
    col_category: "类别",
    col_casualties: "死亡 / 受伤",
    col_missing: "未落实的条件",
    col_days_open: "已历天数",
    col_time: "记录时间（北京时间）",
    col_event: "事件",
    col_stream: "记录对象",
    col_actor: "操作人",
    more_rows: (n) => `另有 ${n} 项`,
    investigation_overdue: "调查已超期",
    grades: { general: "一般", major: "重大", ungraded: "未定级" },
    four: {
      cause_determined: "事故原因未查清不放过",
      responsible_dealt_with: "责任人员未处理不放过",
      corrective_measures_implemented: "整改措施未落实不放过",
      education_conducted: "有关人员未受到教育不放过",
    },
    token_title: "请输入访问令牌",
    token_help: "粘贴由 `anquan token` 生成的令牌，仅在本次浏览器会话中保存。",
    token_refused: "服务拒绝了该令牌，请重新输入。",
    token_submit: "打开态势图",
  },
};

// Event types, in the bureau's words; a type not listed is shown by its code.
const EVENTS = {
  "hazard.reported": ["hazard reported", "隐患上报"],
  "hazard.graded": ["hazard graded", "隐患定级"],
  "hazard.rectification_ordered": ["rectification ordered", "下达整改"],
  "hazard.progress_noted": ["rectification progress noted", "整改进展"],
  "hazard.deadline_extended": ["rectification deadline extended", "整改延期"],
  "hazard.rectification_reported_done": ["rectification reported done", "报告整改完成"],
  "hazard.rectification_verified": ["rectification checked", "整改验收"],
  "hazard.reopened": ["hazard reopened", "隐患重新打开"],
  "hazard.closed": ["hazard closed", "隐患销号"],
  "hazard.listed_for_supervision": ["hazard listed for supervision", "挂牌督办"],
  "incident.reported": ["incident reported", "事故报告"],
  "incident.graded": ["incident graded", "事故定级"],
  "incident.casualties_revised": ["casualties revised", "伤亡人数续报"],
  "incident.investigation_opened": ["investigation opened", "启动事故调查"],
  "incident.investigation_extended": ["investigation extended", "调查延期"],
  "incident.investigation_report_submitted": ["investigation report submitted", "提交调查报告"],
  "incident.cause_determined": ["cause determined", "查明事故原因"],
  "incident.responsible_dealt_with": ["those responsible dealt with", "责任人员处理"],
  "incident.corrective_measures_implemented": ["corrective measures implemented", "整改措施落实"],
  "incident.education_conducted": ["education conducted", "警示教育"],
  "incident.appraisal_started": ["appraisal started", "启动技术鉴定"],
  "incident.appraisal_ended": ["appraisal ended", "技术鉴定结束"],
  "incident.evaluated": ["incident evaluated", "事故评估"],
  "incident.closed": ["incident closed", "事故结案"],
  "community.registered": ["community registered", "社区登记"],
  "community.control_indicator_set": ["control indicator set", "下达控制指标"],
  "community.population_revised": ["population revised", "人口数更新"],
  "community.economy_recorded": ["economy recorded", "经济数据登记"],
  "enterprise.registered": ["enterprise registered", "企业登记"],
  "enterprise.enforcement_action_taken": ["enforcement action taken", "行政执法"],
  "enterprise.work_hours_recorded": ["work hours recorded", "工时登记"],
  "enterprise.work_injury_case_recorded": ["work injury recorded", "工伤记录"],
  "injury.recorded": ["injury recorded", "伤害监测记录"],
  "project.planned": ["promotion project planned", "促进项目立项"],
  "project.intervention_implemented": ["intervention implemented", "干预措施实施"],
  "access.role_granted": ["role granted", "授予权限"],
  "access.role_revoked": ["role revoked", "收回权限"],
};

const state = {
  lang: "en",
  token: null,
  community: null,
  data: null,
  generation: 0,
  position: null,
  lastEventId: null,
  latest: [],
  stream: null,
  refreshTimer: null,
};

const $ = (sel, root = document) => root.querySelector(sel);
const w = () => WORDS[state.lang];

function initialLang() {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved === "zh" || saved === "en") return saved;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en";
}

function fmtInt(n) {
  return new Intl.NumberFormat(state.lang === "zh" ? "zh-CN" : "en-GB").format(n);
}

function fmtPct(p) {
  if (p === null || p === undefined) return "–";
  return `${(Math.round(p * 10) / 10).toFixed(1)}%`;
}

function fmtDate(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  if (state.lang === "zh") return `${y}年${m}月${d}日`;
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  return `${d} ${months[m - 1]} ${y}`;
}

function fmtDayMonth(iso) {
  const [, m, d] = iso.split("-").map(Number);
  if (state.lang === "zh") return `${m}月${d}日`;
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  return `${d} ${months[m - 1]}`;
}

// Recorded times are microseconds since the epoch; shown in China Standard Time.
function fmtMicros(us) {
  const t = new Date(Math.floor(us / 1000));
  return new Intl.DateTimeFormat(state.lang === "zh" ? "zh-CN" : "en-GB", {
    timeZone: "Asia/Shanghai",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  }).format(t);
}

function categoryName(code) {
  const c = state.data && state.data.codes.categories.find((x) => x.code === code);
  if (!c) return code;
  return state.lang === "zh" ? c.zh : c.en;
}

function communityName(id) {
  const c = state.data && state.data.codes.communities.find((x) => x.community_id === id);
  return c ? c.name : id;
}

// ---- the token --------------------------------------------------------------------------------

function askToken(refused) {
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  stopStream();
  $("#token-refused").hidden = !refused;
  const dialog = $("#token-dialog");
  if (!dialog.open) dialog.showModal();
  $("#token-input").value = "";
  $("#token-input").focus();
}

$("#token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const t = $("#token-input").value.trim();
  if (!t) return;
  state.token = t;
  sessionStorage.setItem(TOKEN_KEY, t);
  $("#token-dialog").close();
  refresh(true);
});

$("#forget-token").addEventListener("click", () => askToken(false));

// Escape would close the dialog and leave a page that can read nothing: it stays until a token
// is given.
$("#token-dialog").addEventListener("cancel", (e) => e.preventDefault());

class Unauthorized extends Error {}

async function api(path) {
  const r = await fetch(path, { headers: { Authorization: `Bearer ${state.token}`, Accept: "application/json" } });
  if (r.status === 401) throw new Unauthorized();
  if (!r.ok) {
    let detail = `${r.status}`;
    try {
      const p = await r.json();
      detail = `${r.status} ${p.title || ""}: ${p.detail || ""}`;
    } catch (_) {
      // The status alone says enough.
    }
    throw new Error(`${path}: ${detail}`);
  }
  return r.json();
}

// ---- reading the figures ------------------------------------------------------------------------

function scoped(path) {
  if (!state.community) return path;
  return `${path}${path.includes("?") ? "&" : "?"}community=${encodeURIComponent(state.community)}`;
}

async function load() {
  const [codes, stats, kpis, hazards, incidents, head] = await Promise.all([
    api("/v1/codes"),
    api(scoped("/v1/stats?by=category")),
    api(scoped("/v1/kpis")),
    api(scoped("/v1/hazards")),
    api(scoped("/v1/incidents")),
    api("/v1/head"),
  ]);
  const from = Math.max(0, head.events - LATEST_EVENTS);
  const page = await api(`/v1/events?from=${from}&limit=${LATEST_EVENTS}`);
  return { codes, stats, kpis, hazards, incidents, head, events: page.events };
}

// Reads every figure again; an answer overtaken by a newer read is dropped.
async function refresh(restartStream) {
  if (!state.token) return;
  const generation = ++state.generation;
  try {
    const data = await load();
    if (generation !== state.generation) return;
    state.data = data;
    state.latest = data.events.slice().reverse();
    if (state.position === null) state.position = data.head.events;
    $("#error").hidden = true;
    render();
    if (restartStream || !state.stream) startStream();
  } catch (e) {
    if (e instanceof Unauthorized) {
      askToken(true);
      return;
    }
    if (generation !== state.generation) return;
    $("#error").textContent = String(e.message || e);
    $("#error").hidden = false;
  }
}

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => refresh(false), DEBOUNCE_MS);
}

// ---- the live stream ---------------------------------------------------------------------------
// fetch with a stream reader rather than EventSource, so the token travels in the Authorization
// header and never in a URL (logs, history).

function setLive(on, retrying) {
  document.body.dataset.live = on ? "on" : "off";
  const live = $("#live");
  live.className = on ? "live on" : retrying ? "live retry" : "live";
  live.textContent = on ? w().live_on : retrying ? w().live_retry : w().offline;
}

function stopStream() {
  if (state.stream) state.stream.abort();
  state.stream = null;
  setLive(false, false);
}

function startStream() {
  stopStream();
  const ctrl = new AbortController();
  state.stream = ctrl;
  follow(ctrl).catch(() => {});
}

async function follow(ctrl) {
  while (!ctrl.signal.aborted) {
    try {
      const headers = { Authorization: `Bearer ${state.token}`, Accept: "text/event-stream" };
      let url = "/v1/events/live";
      if (state.lastEventId !== null) headers["Last-Event-ID"] = String(state.lastEventId);
      else if (state.position !== null) url += `?from=${state.position}`;
      const r = await fetch(url, { headers, signal: ctrl.signal });
      if (r.status === 401) {
        askToken(true);
        return;
      }
      if (!r.ok || !r.body) throw new Error(`live: ${r.status}`);
      setLive(true, false);
      // Whatever happened while the stream was down is in the figures read now.
      scheduleRefresh();
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          onMessage(block);
        }
      }
    } catch (_) {
      if (ctrl.signal.aborted) return;
    }
    if (ctrl.signal.aborted) return;
    setLive(false, true);
    await new Promise((done) => setTimeout(done, RECONNECT_MS));
  }
}

function onMessage(block) {
  let id = null;
  let data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("id:")) id = line.slice(3).trim();
    else if (line.startsWith("data:")) data += line.slice(5).replace(/^ /, "");
  }
  if (id === null) return; // a keep-alive comment
  state.lastEventId = Number(id);
  try {
    state.latest.unshift(JSON.parse(data));
    state.latest.length = Math.min(state.latest.length, LATEST_EVENTS);
  } catch (_) {
    // The figures read next show it all the same.
  }
  scheduleRefresh();
}

// ---- drawing -------------------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function html(tag, attrs, children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children || []) e.append(c);
  return e;
}

// Round axis steps: 1, 2 or 5 times a power of ten, about five ticks.
function ticks(max) {
  if (max <= 0) return [0, 1];
  const raw = max / 5;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw && s >= 1) || Math.max(1, p * 10);
  const out = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(v);
  if (out[out.length - 1] < max) out.push(out[out.length - 1] + step);
  return out;
}

function legend(box, items) {
  box.replaceChildren(
    ...items.map((it) =>
      html("span", { class: "key" }, [html("i", { class: `swatch ${it.cls}` }), document.createTextNode(it.label)]),
    ),
  );
}

// Horizontal bars: one row per line, one bar per series; labels left, values at the bar ends,
// an x axis with its unit below. `marker` draws a dashed vertical line (time elapsed).
function barChart(box, spec) {
  box.replaceChildren();
  if (!spec.rows.length) {
    box.append(html("p", { class: "empty", text: spec.empty }));
    return;
  }
  const width = Math.max(420, box.clientWidth || 560);
  const labelW = Math.min(190, Math.round(width * 0.32));
  // Room right of the bars for the longest value label (CJK characters are about twice as wide).
  const textW = (t) => [...t].reduce((n, ch) => n + (ch.charCodeAt(0) > 0x2e80 ? 13 : 7.5), 0);
  const valueW = 12 + Math.max(24, ...spec.rows.flatMap((r) => (r.texts || r.values.map(fmtInt)).map(textW)));
  const barH = 16;
  const gap = 3;
  const rowH = spec.series.length * (barH + gap) + 10;
  const top = spec.marker ? 22 : 8;
  const plotH = spec.rows.length * rowH;
  const axisH = 46;
  const plotW = width - labelW - valueW;
  const max = Math.max(spec.minMax || 0, spec.marker ? spec.marker.value : 0, ...spec.rows.flatMap((r) => r.values));
  const t = ticks(max);
  const scaleMax = t[t.length - 1];
  const x = (v) => labelW + (plotW * v) / scaleMax;
  const root = svg("svg", {
    width,
    height: top + plotH + axisH,
    viewBox: `0 0 ${width} ${top + plotH + axisH}`,
    role: "img",
    "aria-label": spec.title,
  });
  for (const v of t) {
    root.append(svg("line", { x1: x(v), x2: x(v), y1: top, y2: top + plotH, class: "grid" }));
    root.append(
      svg("text", { x: x(v), y: top + plotH + 16, "text-anchor": "middle", class: "tick" }, spec.tick ? spec.tick(v) : fmtInt(v)),
    );
  }
  root.append(svg("line", { x1: labelW, x2: labelW, y1: top, y2: top + plotH, class: "axis" }));
  root.append(svg("line", { x1: labelW, x2: labelW + plotW, y1: top + plotH, y2: top + plotH, class: "axis" }));
  root.append(svg("text", { x: labelW + plotW / 2, y: top + plotH + 38, "text-anchor": "middle", class: "axis-label" }, spec.axis));
  spec.rows.forEach((row, i) => {
    const y0 = top + i * rowH + 5;
    const g = svg("g", { class: "row", "data-key": row.key });
    for (const [k, v] of Object.entries(row.data || {})) g.setAttribute(`data-${k}`, v);
    const label = svg("text", { x: labelW - 8, y: y0 + (rowH - 10) / 2 + 5, "text-anchor": "end", class: "row-label" }, row.label);
    if (row.community) {
      label.setAttribute("class", "row-label community-link");
      label.setAttribute("data-community", row.community);
      label.setAttribute("tabindex", "0");
      label.setAttribute("role", "link");
    }
    g.append(label);
    row.values.forEach((v, s) => {
      const y = y0 + s * (barH + gap);
      const cls = (row.classes && row.classes[s]) || spec.series[s].cls;
      const bar = svg("rect", { x: labelW, y, width: Math.max(v > 0 ? 2 : 0, x(v) - labelW), height: barH, class: `bar ${cls}` });
      bar.append(svg("title", {}, `${row.label} · ${spec.series[s].label}: ${row.texts ? row.texts[s] : fmtInt(v)}`));
      if (row.community) {
        bar.setAttribute("data-community", row.community);
        bar.classList.add("community-link");
      }
      g.append(bar);
      g.append(svg("text", { x: x(v) + 5, y: y + barH - 3, class: "bar-value" }, row.texts ? row.texts[s] : fmtInt(v)));
    });
    root.append(g);
  });
  if (spec.marker) {
    const mx = x(spec.marker.value);
    root.append(svg("line", { x1: mx, x2: mx, y1: top - 4, y2: top + plotH, class: "marker" }));
    const anchor = mx > labelW + plotW * 0.75 ? "end" : "middle";
    root.append(svg("text", { x: mx, y: top - 8, "text-anchor": anchor, class: "marker-label" }, spec.marker.label));
  }
  box.append(root);
}

function rag(consumption, elapsed) {
  if (consumption === null || consumption === undefined || elapsed === null || elapsed === undefined) return "rag-none";
  if (consumption > elapsed) return "rag-red";
  if (consumption > 0 && consumption >= elapsed - AMBER_POINTS) return "rag-amber";
  return "rag-green";
}

// `wrap`: the indices of the columns whose text may break across lines (the others keep theirs
// on one line, so ids and dates stay whole).
function table(box, columns, rows, empty, total, wrap = []) {
  box.replaceChildren();
  if (!rows.length) {
    box.append(html("p", { class: "empty", text: empty }));
    return;
  }
  const head = html("tr", {}, columns.map((c) => html("th", { text: c })));
  const body = rows.map((cells) =>
    html(
      "tr",
      {},
      cells.map((c, i) => {
        const cls = wrap.includes(i) ? "wrap" : "";
        return c instanceof Node ? html("td", { class: cls }, [c]) : html("td", { class: cls, text: String(c) });
      }),
    ),
  );
  box.append(html("table", {}, [html("thead", {}, [head]), html("tbody", {}, body)]));
  if (total > rows.length) box.append(html("p", { class: "hint", text: w().more_rows(total - rows.length) }));
}

function communityLink(id) {
  const a = html("a", { href: `#${encodeURIComponent(id)}`, class: "community-link", "data-community": id, text: communityName(id) });
  return a;
}

function setTile(name, value, note, cls) {
  const tile = $(`[data-figure="${name}"]`);
  $(".value", tile).textContent = value;
  $(".note", tile).textContent = note;
  tile.className = `tile ${cls || ""}`;
}

function render() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.title = w().title;
  for (const e of document.querySelectorAll("[data-t]")) {
    const v = w()[e.dataset.t];
    if (typeof v === "string") e.textContent = v;
  }
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === state.lang));
  setLive(document.body.dataset.live === "on", $("#live").classList.contains("retry"));
  const scopeBtn = $("#scope-district");
  scopeBtn.textContent = state.community ? `← ${w().back}` : w().district;
  scopeBtn.disabled = !state.community;
  const d = state.data;
  if (!d) return;
  $("#scope-community").textContent = state.community ? `${communityName(state.community)} (${state.community})` : "";
  $("#basis").textContent = w().basis(fmtDate(d.stats.basis.on), fmtInt(d.head.events));

  const s = d.stats.result;
  const year = s.current.from.slice(0, 4);
  const base = s.baseline.from.slice(0, 4);
  const period = s.year_to_date
    ? `${w().same_period} ${fmtDayMonth(s.current.from)} – ${fmtDayMonth(s.current.to)}`
    : w().whole_year;
  const total = s.comparison.total;
  setTile("incidents", fmtInt(total.current.incidents), w().vs_last(fmtInt(total.baseline.incidents), base));
  setTile("deaths", fmtInt(total.current.deaths), w().vs_last(fmtInt(total.baseline.deaths), base),
    total.current.deaths > total.baseline.deaths ? "warn" : "");

  const hz = d.hazards.result;
  setTile("open_hazards", fmtInt(hz.open.total), w().major_of(fmtInt(hz.open.major)));
  setTile("overdue_hazards", fmtInt(hz.overdue.length), w().overdue_note, hz.overdue.length ? "warn" : "");
  const four = d.incidents.result.incidents.filter((i) => i.four_missing.length > 0);
  setTile("four_incomplete", fmtInt(four.length), w().four_tile_note, four.length ? "warn" : "");
  const it = d.kpis.result.indicator_total;
  if (it) {
    setTile("indicator", fmtPct(it.consumption_pct), w().elapsed_note(fmtPct(it.elapsed_pct)), rag(it.consumption_pct, it.elapsed_pct));
  } else {
    setTile("indicator", "–", w().no_indicator, "");
  }

  // This year against last, by category.
  const cat = $("#panel-categories");
  $(".chart-title", cat).textContent = w().cat_title(year, base, period);
  legend($(".legend", cat), [
    { cls: "s-current", label: `${year} (${fmtDayMonth(s.current.from)} – ${fmtDayMonth(s.current.to)})` },
    { cls: "s-baseline", label: `${base} (${fmtDayMonth(s.baseline.from)} – ${fmtDayMonth(s.baseline.to)})` },
  ]);
  const lines = s.comparison.lines
    .filter((l) => l.current.incidents > 0 || l.baseline.incidents > 0)
    .sort((a, b) => b.current.incidents - a.current.incidents || b.baseline.incidents - a.baseline.incidents);
  barChart($(".chart", cat), {
    title: $(".chart-title", cat).textContent,
    axis: w().cat_axis,
    empty: w().cat_empty,
    minMax: 4,
    series: [
      { cls: "s-current", label: year },
      { cls: "s-baseline", label: base },
    ],
    rows: lines.map((l) => ({
      key: l.key,
      label: categoryName(l.key),
      values: [l.current.incidents, l.baseline.incidents],
      data: { current: l.current.incidents, baseline: l.baseline.incidents },
    })),
  });

  // The control indicator against time elapsed.
  const ind = $("#panel-indicator");
  const kp = d.kpis.result;
  const elapsed = kp.indicators.length ? kp.indicators[0].elapsed_pct : null;
  const byCommunity = !state.community;
  $(".chart-title", ind).textContent = byCommunity ? w().ind_title_district(kp.year) : w().ind_title_community(kp.year);
  legend($(".legend", ind), [
    { cls: "rag-green", label: w().rag_green },
    { cls: "rag-amber", label: w().rag_amber },
    { cls: "rag-red", label: w().rag_red },
    { cls: "marker-key", label: elapsed === null ? "" : w().elapsed_line(fmtPct(elapsed)) },
  ]);
  const indRows = byCommunity
    ? kp.indicators.map((c) => ({
        key: c.community_id,
        community: c.community_id,
        label: communityName(c.community_id),
        pct: c.total.consumption_pct,
        deaths: c.total.deaths_so_far,
        limit: c.total.limit,
      }))
    : kp.indicators.flatMap((c) =>
        c.per_category.map((p) => ({
          key: p.category,
          label: categoryName(p.category),
          pct: p.consumption_pct,
          deaths: p.deaths_so_far,
          limit: p.limit,
        })),
      );
  barChart($(".chart", ind), {
    title: $(".chart-title", ind).textContent,
    axis: w().ind_axis,
    empty: w().ind_empty,
    minMax: 100,
    tick: (v) => `${v}%`,
    marker: elapsed === null ? null : { value: elapsed, label: w().elapsed_line(fmtPct(elapsed)) },
    series: [{ cls: "rag-none", label: w().tile_indicator }],
    rows: indRows.map((r) => ({
      key: r.key,
      community: r.community,
      label: r.label,
      values: [r.pct || 0],
      classes: [rag(r.pct, elapsed)],
      texts: [w().ind_value(fmtPct(r.pct), fmtInt(r.deaths), r.limit)],
      data: { deaths: r.deaths, limit: r.limit },
    })),
  });
  $(".legend", ind).append(html("span", { class: "hint", text: byCommunity ? w().rows_hint : "" }));

  // Hazards open and overdue.
  const hp = $("#panel-hazards");
  $(".chart-title", hp).textContent = w().haz_title(fmtDate(hz.on));
  legend($(".legend", hp), [{ cls: "s-open", label: w().open_series }]);
  const openCats = Object.entries(hz.open.by_category).sort((a, b) => b[1] - a[1]);
  barChart($(".chart", hp), {
    title: $(".chart-title", hp).textContent,
    axis: w().haz_axis,
    empty: w().haz_empty,
    minMax: 4,
    series: [{ cls: "s-open", label: w().open_series }],
    rows: openCats.map(([k, n]) => ({ key: k, label: categoryName(k), values: [n], data: { open: n } })),
  });
  table(
    $("#overdue-table"),
    [w().col_hazard, w().col_community, w().col_grade, w().col_deadline, w().col_days_overdue],
    hz.overdue.slice(0, MAX_ROWS).map((o) => [
      o.hazard_id,
      communityLink(o.community_id),
      w().grades[o.grade || "ungraded"] || o.grade,
      fmtDate(o.deadline),
      fmtInt(o.days_overdue),
    ]),
    w().overdue_none,
    hz.overdue.length,
  );

  // Incidents with the four conditions incomplete.
  table(
    $("#four-table"),
    [w().col_incident, w().col_date, w().col_community, w().col_category, w().col_missing, w().col_days_open],
    four.slice(0, MAX_ROWS).map((i) => [
      i.incident_id,
      fmtDate(i.occurred_on),
      communityLink(i.community_id),
      categoryName(i.category),
      // One condition a line: each is a separate piece of work to chase.
      html(
        "ul",
        { class: "conditions" },
        i.four_missing
          .map((c) => w().four[c] || c)
          .concat(i.investigation_overdue ? [w().investigation_overdue] : [])
          .map((t) => html("li", { text: t })),
      ),
      fmtInt(i.days_open),
    ]),
    w().four_none,
    four.length,
    [3, 4],
  );

  // One community's incidents, all of them.
  const ip = $("#panel-incidents");
  ip.hidden = !state.community;
  if (state.community) {
    const all = d.incidents.result.incidents;
    $("h3", ip).textContent = w().incidents_title(communityName(state.community));
    table(
      $("#incidents-table"),
      [w().col_incident, w().col_date, w().col_category, w().col_casualties, w().col_status, w().col_days_open],
      all.slice(0, MAX_ROWS).map((i) => [
        i.incident_id,
        fmtDate(i.occurred_on),
        categoryName(i.category),
        `${fmtInt(i.deaths)} / ${fmtInt(i.injuries)}`,
        i.closed ? w().closed : w().open,
        fmtInt(i.days_open),
      ]),
      w().incidents_none,
      all.length,
    );
  }

  // The latest events (of the whole district: most events name no community).
  $("#panel-events h3").textContent = state.community ? w().events_title_all : w().events_title;
  table(
    $("#events-table"),
    [w().col_time, w().col_event, w().col_stream, w().col_community, w().col_actor],
    state.latest.map((e) => {
      const names = EVENTS[e.event_type];
      const c = e.event && e.event.community_id;
      return [
        fmtMicros(e.recorded_at),
        names ? names[state.lang === "zh" ? 1 : 0] : e.event_type,
        e.stream,
        c ? communityLink(c) : "",
        e.actor,
      ];
    }),
    w().events_none,
    state.latest.length,
  );
}

// ---- scope and language ---------------------------------------------------------------------------

function setCommunity(id) {
  state.community = id || null;
  const hash = state.community ? `#${encodeURIComponent(state.community)}` : " ";
  if (location.hash !== hash) history.replaceState(null, "", hash === " " ? location.pathname : hash);
  render();
  refresh(false);
  window.scrollTo(0, 0);
}

document.addEventListener("click", (e) => {
  const link = e.target.closest("[data-community]");
  if (link) {
    e.preventDefault();
    setCommunity(link.getAttribute("data-community"));
  }
});

document.addEventListener("keydown", (e) => {
  const link = e.target.closest && e.target.closest("[data-community]");
  if (link && e.key === "Enter") setCommunity(link.getAttribute("data-community"));
});

$("#scope-district").addEventListener("click", () => setCommunity(null));

for (const b of document.querySelectorAll("[data-lang]")) {
  b.addEventListener("click", () => {
    state.lang = b.dataset.lang;
    localStorage.setItem(LANG_KEY, state.lang);
    render();
  });
}

let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(render, 150);
});

// ---- start ------------------------------------------------------------------------------------------

state.lang = initialLang();
state.community = location.hash.length > 1 ? decodeURIComponent(location.hash.slice(1)) : null;
state.token = sessionStorage.getItem(TOKEN_KEY);
render();
if (state.token) refresh(true);
else askToken(false);
