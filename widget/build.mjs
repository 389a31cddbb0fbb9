// Minifies the widget's readable source (src/) into the assets Shopify CLI deploys with the theme
// app extension. Usage: node build.mjs [out-dir]  (default: ../storefront_widget/assets)
// tests/widget/test_build.py builds into a temporary folder and compares byte for byte, so the
// committed assets are always exactly this build of src/.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(process.argv[2] || path.join(here, '..', 'storefront_widget', 'assets'));
const banner = '/* Backbell widget: built by widget/build.mjs from widget/src/; edit the source, then npm run build. */';

await build({
  entryPoints: [path.join(here, 'src', 'backbell.js'), path.join(here, 'src', 'backbell.css')],
  outdir,
  minify: true,
  // ES2020 (optional chaining, async/await) runs in every browser Shopify's online store supports.
  target: 'es2020',
  banner: { js: banner, css: banner },
  legalComments: 'none',
  logLevel: 'warning',
});
