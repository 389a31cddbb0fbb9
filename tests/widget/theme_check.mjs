// Runs Shopify's Theme Check on the extension folder and prints the offenses as JSON.
// Usage: node theme_check.mjs <extension-root>
import { check } from '@shopify/theme-check-node';

const root = process.argv[2];
const offenses = await check(root);
const plain = offenses.map((o) => ({
  check: o.check,
  severity: o.severity,
  message: o.message,
  uri: o.uri,
  line: o.start && o.start.line,
}));
process.stdout.write(JSON.stringify(plain, null, 2) + '\n');
