// Minifies the widget's readable source (src/) into what Shopify CLI deploys with the theme app
// extension. Usage: node build.mjs [out-dir]  (default: ../storefront_widget)
//   assets/backbell.js, assets/backbell.css   loaded by the page only when needed (see src/boot.js)
//   snippets/backbell-boot.liquid             src/boot.js and src/critical.css, inlined by the blocks
// tests/widget/test_build.py builds into a temporary folder and compares byte for byte, so the
// committed files are always exactly this build of src/.
import { build } from 'esbuild';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(process.argv[2] || path.join(here, '..', 'storefront_widget'));
const banner = '/* Backbell widget: built by widget/build.mjs from widget/src/; edit the source, then npm run build. */';
const src = (name) => path.join(here, 'src', name);
const common = {
  bundle: true,
  minify: true,
  // ES2020 (optional chaining, async/await) runs in every browser Shopify's online store supports.
  target: 'es2020',
  legalComments: 'none',
  logLevel: 'warning',
};

await build({
  ...common,
  entryPoints: [src('backbell.js'), src('backbell.css')],
  outdir: path.join(outdir, 'assets'),
  format: 'iife',
  banner: { js: banner, css: banner },
});

// The boot snippet: no banner inside (it is in every product page's HTML), {% raw %} so Liquid never
// reads the minified code.
const inline = await build({ ...common, entryPoints: [src('boot.js'), src('critical.css')], outdir: 'inline', format: 'iife', write: false });
const text = (ext) => inline.outputFiles.find((file) => file.path.endsWith(ext)).text.trim();
await mkdir(path.join(outdir, 'snippets'), { recursive: true });
await writeFile(
  path.join(outdir, 'snippets', 'backbell-boot.liquid'),
  `{%- comment -%}Built by widget/build.mjs from widget/src/boot.js and critical.css: edit those, then npm run build.{%- endcomment -%}\n` +
    `<style>{% raw %}${text('.css')}{% endraw %}</style>\n<script>{% raw %}${text('.js')}{% endraw %}</script>\n`,
);
