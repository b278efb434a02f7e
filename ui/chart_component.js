// A Plotly chart drawn in place (ui/chart_component.py says why): the first data draws it, each later data
// redraws the same plot with Plotly.react, which changes only what changed.
//
// data: the bytes of one JSON object {figure, config, plotly (the address of each plotly.js bundle), three_d (the
// figure has 3-D traces), stretch (fill the height of the container), clicks (report clicked points)}.

// plotly.js in two bundles (ui/chart_component.py): "2d" draws charts without 3-D traces and is quicker to load, "3d"
// draws every chart. Each loads once per page, whichever chart asks first; its script sets window.Plotly2d or
// window.Plotly3d.
const loading = window.gradscapePlotly || (window.gradscapePlotly = {}); // (one per page, however many charts)

function loadPlotly(bundle, address) {
  if (!loading[bundle]) {
    loading[bundle] = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = address;
      script.onload = () => resolve(window[`Plotly${bundle}`]);
      script.onerror = () => {
        delete loading[bundle]; // a later chart tries again
        reject(new Error(`plotly.js did not load from ${address}`));
      };
      document.head.appendChild(script);
    });
  }
  return loading[bundle];
}

// A chart keeps the bundle it was first drawn with until it has 3-D traces; a new chart on a page that has the 3-D
// bundle draws with that one (no second script to run).
function bundleFor(plot) {
  if (plot.spec.three_d) return "3d";
  return plot.bundle || (loading["3d"] ? "3d" : "2d");
}

// A click's points as st.plotly_chart reported them (its event's selection.points), so pages read them alike.
function clickedPoints(event) {
  return event.points.map((point) => ({
    x: point.x,
    y: point.y,
    z: point.z,
    curve_number: point.curveNumber,
    point_number: point.pointNumber,
    point_index: point.pointIndex,
    customdata: point.customdata,
  }));
}

// What st.plotly_chart (Streamlit 1.67, theme="streamlit") did to every figure with this app's theme
// (.streamlit/config.toml), read off its charts: these values over the figure's template (viz.theme's), and a bold
// title. Kept as they were: the pages' charts were laid out with them (label sizes, margins, legends).
const GREY = "#808495";
const LINES = "#e6eaf1";
const FONT = '"Source Sans", sans-serif';
const PAGE_LOOK = {
  font: { color: GREY, family: FONT, size: 12, weight: 400 },
  title: { color: "#1f2430", subtitleColor: "#1f2430", font: { family: FONT, size: 16, color: "#1f2430" },
    pad: { l: 4 }, xanchor: "left", x: 0 },
  legend: { title: { font: { size: 12, color: GREY }, side: "top" }, valign: "top", bordercolor: "transparent",
    borderwidth: 0, font: { size: 12, color: "#262730" } },
  paper_bgcolor: "#ffffff",
  plot_bgcolor: "#ffffff",
  yaxis: { ticklabelposition: "outside", zerolinecolor: LINES, title: { font: { color: GREY, size: 14 }, standoff: 24 },
    tickcolor: LINES, tickfont: { color: GREY, size: 12 }, gridcolor: LINES, minor: { gridcolor: LINES },
    automargin: true },
  xaxis: { zerolinecolor: LINES, gridcolor: LINES, showgrid: false, tickfont: { color: GREY, size: 12 },
    tickcolor: LINES, title: { font: { color: GREY, size: 14 }, standoff: 20 }, minor: { gridcolor: LINES },
    zeroline: false, automargin: true, rangeselector: { bgcolor: "#ffffff", bordercolor: LINES, borderwidth: 1, x: 0 } },
  margin: { pad: 8, r: 0, l: 0 },
  hoverlabel: { bgcolor: "#ffffff", bordercolor: "rgba(31, 36, 48, 0.2)", font: { color: GREY, family: FONT, size: 12 } },
  coloraxis: { colorbar: { thickness: 16, xpad: 24, ticklabelposition: "outside", outlinecolor: "transparent",
    outlinewidth: 8, len: 0.75, y: 0.5745, title: { font: { color: GREY, size: 14 } },
    tickfont: { color: GREY, size: 12 } } },
};

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// `over` laid over `under`, object by object (a copy: the spec stays as it came).
function merged(under, over) {
  const result = { ...under };
  for (const [name, value] of Object.entries(over)) {
    result[name] = isObject(value) && isObject(under[name]) ? merged(under[name], value) : value;
  }
  return result;
}

function onPage(figureLayout) {
  const template = isObject(figureLayout.template) ? figureLayout.template : {};
  const layout = { ...figureLayout, template: { ...template, layout: merged(template.layout || {}, PAGE_LOOK) } };
  if (layout.title !== undefined && layout.title !== null) {
    const title = isObject(layout.title) ? layout.title : { text: String(layout.title) };
    layout.title = { ...title, text: `<b>${typeof title.text === "string" ? title.text : ""}</b>` };
  }
  return layout;
}

// The mode bar's full-screen button (st.plotly_chart had one): the chart alone on the screen, drawn at its size.
// One object per chart: plotly.js draws a chart anew whenever its config differs, and a new function would.
const EXPAND = { width: 512, height: 512, path: "M32 32h160v64H96v96H32zm288 0h160v160h-64V96h-96zM32 320h64v96h96v64H32zm416 0h64v160H320v-64h128z" };

function fullScreenButton(plot) {
  if (!plot.fullScreenButton) {
    plot.fullScreenButton = {
      name: "Full screen", title: "Full screen", icon: EXPAND,
      click: () => (document.fullscreenElement === plot.box ? document.exitFullscreen() : plot.box.requestFullscreen()),
    };
    plot.box.addEventListener("fullscreenchange", () => redraw(plot));
  }
  return plot.fullScreenButton;
}

function draw(plot) {
  const { Plotly, spec } = plot;
  const layout = onPage(spec.figure.layout);
  if (document.fullscreenElement === plot.box) {
    layout.width = window.innerWidth;
    layout.height = window.innerHeight;
  } else if (spec.stretch) {
    layout.height = Math.max(plot.box.parentElement.clientHeight, 160);
  }
  plot.drawn = spec;
  return Plotly.react(plot.box, {
    data: spec.figure.data,
    layout,
    frames: spec.figure.frames || [],
    config: { ...spec.config, modeBarButtonsToAdd: [fullScreenButton(plot), ...(spec.config.modeBarButtonsToAdd || [])] },
  });
}

// Once drawn, a chart that reports clicks listens for them (plotly.js gives the plot its `on` at the first draw).
function listenForClicks(plot) {
  if (plot.listening || !plot.spec.clicks) return;
  plot.box.on("plotly_click", (event) => plot.report && plot.report(event));
  plot.listening = true;
}

// Draws the newest spec once plotly.js is there and the draw before has ended: a change that arrives while a
// chart draws is drawn next, and the ones it replaced never are. Every draw goes through here, so no two overlap;
// each finds its bundle anew (a figure with 3-D traces may arrive while a 2-D one draws).
function schedule(plot) {
  plot.box.dataset.drawing = "true"; // until the newest figure is drawn (tests and benchmarks wait for it)
  if (plot.busy) return;
  plot.busy = true;
  const next = () => {
    if (plot.drawn === plot.spec || plot.gone) return undefined;
    const bundle = bundleFor(plot);
    return loadPlotly(bundle, plot.spec.plotly[bundle])
      .then((Plotly) => {
        if (plot.Plotly && plot.Plotly !== Plotly) { // (drawn by the 2-D bundle, now with 3-D traces: drawn anew)
          plot.Plotly.purge(plot.box);
          plot.listening = false;
        }
        plot.Plotly = Plotly;
        plot.bundle = bundle;
        return draw(plot);
      })
      .then(() => {
        listenForClicks(plot);
        return next();
      });
  };
  Promise.resolve()
    .then(next)
    .catch((error) => {
      plot.box.textContent = `This chart could not be drawn: ${error.message}`;
    })
    .finally(() => {
      plot.busy = false;
      delete plot.box.dataset.drawing;
    });
}

// The same figure again, at the size the chart has now (full screen, a stretched chart's container).
function redraw(plot) {
  if (!plot.Plotly || plot.gone) return;
  plot.drawn = null;
  schedule(plot);
}

export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  let box = parentElement.querySelector(":scope > .gs-chart");
  if (!box) {
    box = document.createElement("div");
    box.className = "gs-chart";
    parentElement.appendChild(box);
  }
  const plot = box.gradscape || (box.gradscape = { box });
  plot.spec = JSON.parse(new TextDecoder().decode(data));
  plot.gone = false;
  const title = plot.spec.figure.layout?.title?.text;
  box.setAttribute("role", "img");
  box.setAttribute("aria-label", title ? String(title).replace(/<[^>]*>/g, "") : "chart");
  // A stop of the keyboard's tab order, which reads out the chart's title. It also ends, at the chart's first
  // element, the walk with which the tab panel around a chart (react-aria's) looks at every render for its first
  // focusable element: it went through the whole SVG to the mode bar's buttons (~550 elements on the Optimizers'
  // contour, tens of milliseconds a change).
  box.tabIndex = 0;
  box.classList.toggle("gs-stretch", Boolean(plot.spec.stretch));
  // The chart's height held from the start, so nothing below it moves when plotly.js has loaded and drawn it
  // (450 px: plotly.js's own default height).
  box.style.minHeight = plot.spec.stretch ? "" : `${plot.spec.figure.layout?.height || 450}px`;
  schedule(plot);

  if (!plot.resizing) {
    // The container's width (a column, the sidebar opened or closed, a projector's screen): laid out again.
    let queued = false;
    plot.resizing = new ResizeObserver(() => {
      if (queued || !plot.Plotly || !plot.drawn) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        if (plot.gone) return;
        if (plot.spec.stretch) redraw(plot);
        else if (!plot.busy) plot.Plotly.Plots.resize(box); // (a draw under way lays out at the new width)
      });
    });
    plot.resizing.observe(parentElement);
  }
  plot.report = plot.spec.clicks ? (event) => setTriggerValue("selection", { points: clickedPoints(event) }) : null;

  return () => {
    plot.gone = true;
    plot.resizing?.disconnect();
    plot.resizing = null;
    if (plot.Plotly) plot.Plotly.purge(box);
    box.gradscape = undefined;
    box.remove();
  };
}
