// The esbuild settings of plotly.js's own esbuild-config.js, on entry.js.
const path = require('path');
const esbuild = require('esbuild');
const { environmentPlugin } = require('esbuild-plugin-environment');
const { glsl } = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');

const version = require('plotly.js/package.json').version;
esbuild
    .build({
        entryPoints: [path.join(__dirname, 'entry.js')],
        outfile: path.join(__dirname, '..', 'assets', 'plotly-nas.min.js'),
        format: 'iife',
        globalName: 'Plotly',
        bundle: true,
        minify: true,
        sourcemap: false,
        plugins: [InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
        alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
        define: { global: 'window', 'define.amd': 'false' },
        target: 'es2016',
        banner: {
            js:
                `/* plotly.js v${version} partial bundle (core, bar, histogram, heatmap, scattergl, ` +
                'table) for the nas dashboard. Copyright 2012-2026, Plotly, Inc. MIT license. ' +
                'Built by scripts/build_plotly_bundle.sh from dashboard/js. */',
        },
        // dcc.Graph uses window.Plotly when it is set and then never loads its own copy
        footer: { js: 'window.Plotly = Plotly;' },
        logLevel: 'info',
    })
    .catch(() => process.exit(1));
