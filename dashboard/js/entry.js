'use strict';
// plotly.js with only the trace types dashboard/figures.py draws (scatter is in the core).
// Keep this list in step with figures.py: a trace type missing here does not render.
var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/histogram'),
    require('plotly.js/lib/heatmap'),
    require('plotly.js/lib/scattergl'),
    require('plotly.js/lib/table'),
]);

module.exports = Plotly;
