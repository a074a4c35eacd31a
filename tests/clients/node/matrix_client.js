// Drives node mysql2 for byom's client tests.
//
// Usage: node matrix_client.js '<connection options as JSON>' < steps.json
// Each step is {label, method: "query" | "execute", sql, params}; the script
// prints one JSON object mapping each label to its rows (arrays of values) or
// to {"error": message}. A TLS step list uses options.ssl = {ca: <PEM text>}.
"use strict";

const fs = require("fs");
const mysql = require("mysql2/promise");

async function main() {
  const options = JSON.parse(process.argv[2]);
  const steps = JSON.parse(fs.readFileSync(0, "utf8"));
  const connection = await mysql.createConnection({ ...options, rowsAsArray: true });
  const results = {};
  try {
    for (const step of steps) {
      try {
        const [rows] = await connection[step.method](step.sql, step.params || []);
        results[step.label] = rows;
      } catch (error) {
        results[step.label] = { error: error.message };
      }
    }
  } finally {
    await connection.end();
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
