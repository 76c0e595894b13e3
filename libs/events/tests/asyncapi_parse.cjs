// Parse an AsyncAPI document with the reference parser; print its errors, exit 1 if there are any.
const { readFileSync } = require("node:fs");
const { Parser } = require("@asyncapi/parser");

(async () => {
  const { diagnostics } = await new Parser().parse(readFileSync(process.argv[2], "utf8"));
  const errors = diagnostics.filter((d) => d.severity === 0);
  for (const d of errors) console.log(`${d.code}: ${d.message} at ${d.path.join("/")}`);
  process.exit(errors.length ? 1 : 0);
})();
