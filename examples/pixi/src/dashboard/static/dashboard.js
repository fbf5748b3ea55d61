/* global Chart, console, document, fetch, setTimeout, window -- a browser script; Chart.js is the UMD global */
// Pixi's live dashboard. Polls /api/state (dashboard-state.ts) every 500 ms and redraws five
// Chart.js charts in place. Plain browser JavaScript served as it is, so it runs the same from
// source and from `dist`; Chart.js is the UMD build the server takes from the installed package.
//
// `window.__pixiDashboard` lets a browser test read how many points each chart plots
// (check-dashboard.ts) without knowing Chart.js.

const POLL_MS = 500;

// Tableau 10: distinct, colour-blind-friendly, and calm enough for stacked bars.
const INSTANCE_COLORS = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#b07aa1',
  '#76b7b2',
  '#edc948',
  '#ff9da7',
  '#9c755f',
];
const COLORS = {
  limit: '#d64545',
  window: '#1e2633',
  rateLimited: '#e8a33d',
  degraded: '#8e5bd0',
  probes: '#2f9e8f',
  inFlight: '#3b6fd8',
  kill: '#c93838',
};
const PHASE_COLORS = {
  steady: '#dfe7f7',
  surge: '#fde2bd',
  outage: '#f8d0d0',
  recovery: '#d3efdc',
  'leader-crash': '#e6dcf7',
};
const OTHER_PHASE_COLOR = '#e9ecf1';
const BREAKER_LABELS = ['closed', 'half-open', 'open'];

/** The state of the last poll (the phase-band plugin reads it when a chart draws). */
let latest;
let polls = 0;

const seconds = (ms) => ms / 1000;
const formatSeconds = (ms) => `${seconds(ms).toFixed(1)} s`;
const phaseColor = (name) => PHASE_COLORS[name] ?? OTHER_PHASE_COLOR;
const instanceColor = (state, instance) =>
  INSTANCE_COLORS[state.instances.indexOf(instance) % INSTANCE_COLORS.length] ?? '#888888';

/**
 * How far the x axis reaches: the whole scenario as planned, or, if the run overran it, to the next
 * whole second (Chart.js labels the axis's end, and "30.139 s" reads as noise).
 */
function xMaxMs(state) {
  const lastPhaseEnd = state.phases.reduce((most, phase) => Math.max(most, phase.endMs), 0);
  if (state.elapsedMs <= lastPhaseEnd) return Math.max(lastPhaseEnd, state.bucketMs);
  return Math.ceil(state.elapsedMs / 1000) * 1000;
}

// Draws, behind the data, a band per phase, a dashed line per killed instance, and horizontal
// reference lines (the shared limit, the bulkhead cap) with their labels: none of them is data, so
// none is a dataset that would count as points or crowd the tooltip.
const backdrop = {
  id: 'pixiBackdrop',
  beforeDatasetsDraw(chart, _args, options) {
    if (latest === undefined) return;
    const { ctx, chartArea: area, scales } = chart;
    const x = scales.x;
    ctx.save();
    for (const phase of latest.phases) {
      const left = Math.max(area.left, x.getPixelForValue(seconds(phase.startMs)));
      const right = Math.min(area.right, x.getPixelForValue(seconds(phase.endMs)));
      if (right <= left) continue;
      ctx.globalAlpha = 0.35;
      ctx.fillStyle = phaseColor(phase.name);
      ctx.fillRect(left, area.top, right - left, area.bottom - area.top);
      ctx.globalAlpha = 1;
      if (options.phaseLabels) {
        ctx.fillStyle = '#5d6878';
        ctx.font = '600 11px system-ui, sans-serif';
        ctx.textBaseline = 'top';
        ctx.fillText(phase.name, left + 6, area.top + 5, right - left - 8);
      }
    }
    for (const kill of latest.kills ?? []) {
      const at = x.getPixelForValue(seconds(kill.atMs));
      if (at < area.left || at > area.right) continue;
      ctx.strokeStyle = COLORS.kill;
      ctx.lineWidth = 1.5;
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(at, area.top);
      ctx.lineTo(at, area.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      if (options.killLabels) {
        ctx.fillStyle = COLORS.kill;
        ctx.font = '600 11px system-ui, sans-serif';
        ctx.textBaseline = 'top';
        ctx.textAlign = 'right';
        // One line below the phase names, which start at the phases' left edges.
        ctx.fillText(`${kill.instance} killed`, at - 4, area.top + (options.phaseLabels ? 20 : 5));
        ctx.textAlign = 'left';
      }
    }
    for (const line of chart.$pixiLines ?? []) {
      const y = scales.y.getPixelForValue(line.value);
      if (y < area.top - 1 || y > area.bottom + 1) continue;
      ctx.strokeStyle = line.color;
      ctx.lineWidth = 2;
      ctx.setLineDash([7, 4]);
      ctx.beginPath();
      ctx.moveTo(area.left, y);
      ctx.lineTo(area.right, y);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = line.color;
      ctx.font = '600 11px system-ui, sans-serif';
      ctx.textAlign = 'right';
      ctx.textBaseline = 'bottom';
      ctx.fillText(line.label, area.right - 4, y - 3);
      ctx.textAlign = 'left';
    }
    ctx.restore();
  },
};

if (typeof Chart === 'undefined') {
  // Without Chart.js nothing below can run: say why on the page and where a browser test looks.
  document.body.prepend(element('p', 'pill pill-bad', 'Chart.js did not load: the charts cannot be drawn.'));
  throw new Error('pixi dashboard: Chart.js did not load (vendor/chart.umd.min.js)');
}

Chart.register(backdrop);
Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
Chart.defaults.font.size = 12;
Chart.defaults.color = '#5d6878';
Chart.defaults.borderColor = '#e8ebf0';
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

function baseOptions({ stacked = false, yTitle, backdropOptions = {}, y = {} }) {
  return {
    parsing: true,
    normalized: true,
    interaction: { mode: 'index', intersect: false },
    plugins: {
      legend: {
        position: 'top',
        align: 'end',
        labels: { boxWidth: 12, boxHeight: 12, usePointStyle: true, pointStyle: 'rectRounded' },
      },
      tooltip: {
        callbacks: {
          title: (items) => (items[0] === undefined ? '' : `at ${items[0].parsed.x.toFixed(1)} s`),
        },
      },
      pixiBackdrop: backdropOptions,
    },
    scales: {
      x: {
        type: 'linear',
        min: 0,
        // Bars sit on bucket midpoints, inside [0, end]: no padding, so every chart's time axis lines up.
        offset: false,
        stacked,
        grid: { display: false },
        ticks: { maxRotation: 0, callback: (value) => `${Math.round(value * 10) / 10} s` },
      },
      y: {
        beginAtZero: true,
        stacked,
        title: { display: yTitle !== undefined, text: yTitle },
        ticks: { precision: 0 },
        ...y,
      },
    },
  };
}

/** Bucket midpoints in seconds: where a per-bucket count is plotted. */
const midpoints = (state) => state.series.t.map((t) => seconds(t + state.bucketMs / 2));
const points = (xs, ys) => ys.map((y, index) => ({ x: xs[index], y }));

/** Each chart: its Chart.js config, and the datasets a state gives it (matched by `key` on update). */
const CHARTS = {
  admitted: {
    type: 'bar',
    options: () =>
      baseOptions({
        stacked: true,
        yTitle: 'requests',
        backdropOptions: { phaseLabels: true, killLabels: true },
      }),
    lines: (state) => {
      const perWindow = state.limitPerWindow !== undefined && state.series.admittedInWindow !== undefined;
      const window = formatSeconds(state.windowMs ?? 1000).replace('.0 s', ' s');
      return [
        {
          value: perWindow ? state.limitPerWindow : state.limitPerBucket,
          label: perWindow
            ? `shared limit: ${state.limitPerWindow} per ${window} window`
            : `shared limit: ${state.limitPerBucket} per ${formatSeconds(state.bucketMs)}`,
          color: COLORS.limit,
        },
      ];
    },
    suggestedMax: (state) => (state.limitPerWindow ?? state.limitPerBucket) * 1.25,
    datasets: (state) => {
      const xs = midpoints(state);
      const bars = state.instances.map((instance) => ({
        key: `instance:${instance}`,
        type: 'bar',
        label: instance,
        data: points(xs, state.series.admittedByInstance[instance] ?? []),
        backgroundColor: instanceColor(state, instance),
        stack: 'admitted',
        borderRadius: 2,
        barPercentage: 0.92,
        categoryPercentage: 1,
        order: 2,
      }));
      const inWindow = state.series.admittedInWindow;
      const line = {
        key: 'window',
        type: 'line',
        label: inWindow === undefined ? 'admitted, all gateways' : 'admitted in its window, all gateways',
        data: points(xs, inWindow ?? state.series.admittedTotal),
        borderColor: COLORS.window,
        backgroundColor: COLORS.window,
        borderWidth: 2,
        pointRadius: 0,
        pointHoverRadius: 3,
        stepped: 'middle',
        stack: 'window',
        order: 1,
      };
      return [...bars, line];
    },
  },
  rejections: {
    type: 'bar',
    options: () => baseOptions({ stacked: true, yTitle: 'requests' }),
    datasets: (state) => {
      const xs = midpoints(state);
      const bar = (key, label, values, color) => ({
        key,
        label,
        data: points(xs, values),
        backgroundColor: color,
        borderRadius: 2,
        barPercentage: 0.92,
        categoryPercentage: 1,
      });
      return [
        bar('rate-limited', 'rate limited (429)', state.series.rateLimited, COLORS.rateLimited),
        bar('degraded', 'degraded', state.series.degraded, COLORS.degraded),
      ];
    },
  },
  breakers: {
    type: 'line',
    options: () => {
      const options = baseOptions({
        yTitle: undefined,
        backdropOptions: { killLabels: true },
        y: {
          beginAtZero: false,
          min: -0.45,
          max: 2.45,
          afterBuildTicks: (axis) => {
            axis.ticks = [0, 1, 2].map((value) => ({ value }));
          },
          ticks: { callback: (value) => BREAKER_LABELS[value] ?? '' },
          grid: { color: (context) => (context.tick?.value === 2 ? '#f3d0d0' : '#e8ebf0') },
        },
      });
      options.plugins.tooltip.callbacks.label = (item) =>
        `${item.dataset.label}: ${item.raw.state === null ? 'down' : BREAKER_LABELS[item.raw.state]}`;
      return options;
    },
    datasets: (state) => {
      // The state at the end of each bucket holds over the bucket; instances sharing a state are
      // drawn a little apart, so that agreeing breakers show as parallel lines, not one.
      const xs = state.series.t.map((t) => seconds(t + state.bucketMs));
      const count = state.instances.length;
      return state.instances.map((instance, index) => {
        const offset = (index - (count - 1) / 2) * 0.07;
        const values = state.series.breakerByInstance[instance] ?? [];
        return {
          key: `instance:${instance}`,
          label: instance,
          data: values.map((value, at) => ({
            x: xs[at],
            y: value === null ? null : value + offset,
            state: value,
          })),
          borderColor: instanceColor(state, instance),
          backgroundColor: instanceColor(state, instance),
          borderWidth: 2.5,
          pointRadius: 0,
          pointHoverRadius: 3,
          stepped: 'before',
          spanGaps: false,
        };
      });
    },
  },
  probes: {
    type: 'bar',
    options: () => baseOptions({ yTitle: 'probes', y: { suggestedMax: 2 } }),
    datasets: (state) => [
      {
        key: 'probes',
        label: 'health probes started',
        data: points(midpoints(state), state.series.probes),
        backgroundColor: COLORS.probes,
        borderRadius: 2,
        barPercentage: 0.92,
        categoryPercentage: 1,
      },
    ],
  },
  inFlight: {
    type: 'line',
    options: () => baseOptions({ yTitle: 'permits held', y: { ticks: { precision: 0, stepSize: 1 } } }),
    lines: (state) => [
      { value: state.bulkheadCap, label: `bulkhead cap: ${state.bulkheadCap}`, color: COLORS.limit },
    ],
    suggestedMax: (state) => state.bulkheadCap + 1,
    datasets: (state) => [
      {
        key: 'in-flight',
        label: 'most in flight at once',
        data: points(midpoints(state), state.series.inFlightMax),
        borderColor: COLORS.inFlight,
        backgroundColor: 'rgba(59, 111, 216, 0.16)',
        fill: 'origin',
        borderWidth: 2,
        pointRadius: 0,
        pointHoverRadius: 3,
        stepped: 'middle',
      },
    ],
  },
};

const charts = {};

function ensureCharts() {
  for (const [name, spec] of Object.entries(CHARTS)) {
    if (charts[name] !== undefined) continue;
    const canvas = document.getElementById(`chart-${name === 'inFlight' ? 'inflight' : name}`);
    charts[name] = new Chart(canvas, { type: spec.type, data: { datasets: [] }, options: spec.options() });
  }
}

/** Updates a chart's datasets in place, so legend toggles and hover survive each poll. */
function syncDatasets(chart, wanted) {
  const byKey = new Map(chart.data.datasets.map((dataset) => [dataset.key, dataset]));
  chart.data.datasets = wanted.map((dataset) => {
    const existing = byKey.get(dataset.key);
    if (existing === undefined) return dataset;
    Object.assign(existing, dataset);
    return existing;
  });
}

function renderCharts(state) {
  ensureCharts();
  const xMax = seconds(xMaxMs(state));
  for (const [name, spec] of Object.entries(CHARTS)) {
    const chart = charts[name];
    syncDatasets(chart, spec.datasets(state));
    // Chart.js sizes bars by the gap between points: with a single bucket there is none, and the
    // bar would fill the axis. A bar is never wider than its bucket.
    const area = chart.chartArea;
    if (area !== undefined) {
      const bucketWidth = ((area.right - area.left) * seconds(state.bucketMs)) / xMax;
      for (const dataset of chart.data.datasets) dataset.maxBarThickness = Math.max(1, bucketWidth * 0.92);
    }
    chart.options.scales.x.max = xMax;
    // Read by the backdrop plugin; kept off the options, which Chart.js would resolve as scriptable.
    chart.$pixiLines = spec.lines?.(state) ?? [];
    if (spec.suggestedMax !== undefined) chart.options.scales.y.suggestedMax = spec.suggestedMax(state);
    chart.update('none');
  }
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className !== undefined) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function pill(text, kind) {
  return element('span', `pill pill-${kind}`, text);
}

function renderHeader(state) {
  const count = state.instances.length;
  document.getElementById('tagline').textContent =
    `${count} gateway${count === 1 ? '' : 's'} sharing one rate limit, circuit breaker, bulkhead and recovery leader` +
    (state.mode === 'redis' ? ' on Redis' : ', in one process');
  document.getElementById('mode').textContent = state.mode === 'redis' ? 'Redis' : 'in-process';

  const firstStart = state.phases[0]?.startMs ?? 0;
  document.getElementById('phase').textContent =
    state.currentPhase ?? (state.finished ? 'finished' : state.elapsedMs < firstStart ? 'starting' : '—');

  const total = xMaxMs(state);
  document.getElementById('elapsed').textContent =
    `${formatSeconds(state.elapsedMs)} / ${formatSeconds(total)}`;

  const leader = document.getElementById('leader');
  leader.replaceChildren();
  if (state.leader === undefined) leader.append(element('span', 'empty', 'none'));
  else leader.append(state.leader.instance, element('span', 'token', `token ${state.leader.fencingToken}`));

  const status = document.getElementById('status');
  status.replaceChildren();
  if (!state.finished) status.append(pill('live', 'live'));
  else if (state.invariants === undefined) status.append(pill('finished', 'wait'));
  else {
    const failed = state.invariants.filter((invariant) => !invariant.holds).length;
    const notShown = (state.phaseChecks ?? []).filter((check) => !check.holds).length;
    if (failed > 0) status.append(pill(`${failed} invariant(s) failed`, 'bad'));
    else if (notShown > 0)
      status.append(pill(`invariants hold; ${notShown} phase check(s) not shown`, 'wait'));
    else status.append(pill('all invariants hold', 'good'));
  }
}

function renderPhases(state) {
  const list = document.getElementById('phases');
  list.replaceChildren(
    ...state.phases.map((phase) => {
      const item = element('li', `phase${phase.name === state.currentPhase ? ' current' : ''}`);
      item.style.flex = `${Math.max(1, phase.endMs - phase.startMs)} 1 0`;
      item.style.setProperty('--phase-color', phaseColor(phase.name));
      const done = Math.min(
        1,
        Math.max(0, (state.elapsedMs - phase.startMs) / (phase.endMs - phase.startMs || 1)),
      );
      const fill = element('span', 'fill');
      fill.style.width = `${(done * 100).toFixed(1)}%`;
      const label = element('span', 'label');
      label.append(
        element('span', 'name', phase.name),
        element('span', 'span', `${seconds(phase.startMs)}–${seconds(phase.endMs)} s`),
      );
      item.append(fill, label);
      return item;
    }),
  );
}

function renderTerms(state) {
  const list = document.getElementById('terms');
  if (state.leaderTerms.length === 0) {
    list.replaceChildren(
      element('li', 'empty', state.finished ? 'No leader was elected.' : 'No leader elected yet.'),
    );
    return;
  }
  list.replaceChildren(
    ...state.leaderTerms.flatMap((term, index) => {
      const rows = [];
      // Between terms: how long the cluster had no leader (a dead leader is replaced once its
      // lease runs out), or, if they overlap, by how much: the one thing that must never happen.
      const previous = state.leaderTerms[index - 1];
      if (previous?.endMs !== undefined) {
        const gapMs = term.startMs - previous.endMs;
        rows.push(
          gapMs >= 0
            ? element('li', 'gap', `no leader for ${formatSeconds(gapMs)}`)
            : element('li', 'gap overlap', `overlaps the previous term by ${formatSeconds(-gapMs)}`),
        );
      }
      const item = element('li');
      const swatch = element('span', 'swatch');
      swatch.style.background = instanceColor(state, term.instance);
      // A term ends when its leader loses the lease or when the scenario kills it.
      const killed = (state.kills ?? []).some(
        (kill) => kill.instance === term.instance && kill.atMs === term.endMs,
      );
      // The first leader is usually elected while the gateways warm up, before the clock starts.
      const from = term.startMs < 0 ? 'start' : seconds(term.startMs).toFixed(1);
      const when =
        term.endMs === undefined
          ? element(
              'span',
              'when now',
              term.startMs < 0 ? 'since the start' : `since ${formatSeconds(term.startMs)}`,
            )
          : element('span', 'when', `${from}–${formatSeconds(term.endMs)} · ${killed ? 'killed' : 'lost'}`);
      item.append(
        swatch,
        element('span', 'who', term.instance),
        element('span', 'token', `token ${term.fencingToken}`),
        when,
      );
      rows.push(item);
      return rows;
    }),
  );
}

function renderInvariants(state) {
  const list = document.getElementById('invariants');
  if (state.invariants === undefined || state.invariants.length === 0) {
    const text = state.finished ? 'No verdicts for this run.' : 'Verdicts appear when the run has finished.';
    list.replaceChildren(element('li', 'empty', text));
    return;
  }
  list.replaceChildren(
    ...[...state.invariants, ...(state.phaseChecks ?? [])].map((invariant) => {
      const item = element('li');
      const verdict = element('span', 'verdict');
      verdict.append(invariant.holds ? pill('holds', 'good') : pill('fails', 'bad'));
      const text = element('span');
      text.append(
        element('span', 'name', invariant.name),
        document.createElement('br'),
        element('span', 'detail', invariant.detail),
      );
      item.append(verdict, text);
      return item;
    }),
  );
}

function render(state) {
  latest = state;
  renderHeader(state);
  renderPhases(state);
  renderCharts(state);
  renderTerms(state);
  renderInvariants(state);
}

function showDisconnected() {
  const status = document.getElementById('status');
  status.replaceChildren(pill('reconnecting', 'wait'));
}

let failures = 0;

async function poll() {
  let state;
  try {
    const response = await fetch('api/state', { cache: 'no-store' });
    if (!response.ok) throw new Error(`GET /api/state: ${response.status}`);
    state = await response.json();
    failures = 0;
  } catch {
    // The run may be restarting its server or gone: show it, and keep trying, more slowly after a
    // few misses (each failed request is a line in the browser's console).
    failures += 1;
    showDisconnected();
  }
  if (state !== undefined) {
    try {
      render(state);
      polls += 1;
    } catch (error) {
      // A state the page cannot draw is a bug: say so where a browser test looks.
      console.error('pixi dashboard: cannot draw the state:', error);
    }
  }
  // A finished run changes no more, and its server may close: stop asking.
  if (latest?.finished !== true) setTimeout(() => void poll(), failures > 3 ? 5 * POLL_MS : POLL_MS);
}

/** Points each chart plots (null values, such as a dead instance's breaker, are not points). */
function pointCounts(predicate) {
  const counts = {};
  for (const [name, chart] of Object.entries(charts)) {
    counts[name] = chart.data.datasets.reduce(
      (sum, dataset) => sum + dataset.data.filter((point) => point.y !== null && predicate(point)).length,
      0,
    );
  }
  return counts;
}

window.__pixiDashboard = {
  chartNames: Object.keys(CHARTS),
  polls: () => polls,
  finished: () => latest?.finished === true,
  pointCounts: () => pointCounts(() => true),
  nonZeroCounts: () => pointCounts((point) => (point.state ?? point.y) !== 0),
};

void poll();
