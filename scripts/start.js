'use strict';
// `npm start`: a local Node-RED on 127.0.0.1:1880 with this package's nodes, the example receive
// flow and simulated GoIP lines already talking to it. Nothing leaves this machine.
//
// Environment: PORT (editor, default 1880), GOIP_PORT (UDP, default 44444), GOIP_LINES (default 2),
// SMS_EVERY (seconds between demo SMS per line, default 20; 0 = none).
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const userDir = path.join(root, '.node-red-dev');
const uiPort = Number(process.env.PORT || 1880);
const goipPort = Number(process.env.GOIP_PORT || 44444);
const lineCount = Number(process.env.GOIP_LINES || 2);
const smsEvery = Number(process.env.SMS_EVERY ?? 20);
const password = 'demo-secret';
const exampleFlow = path.join(root, 'examples', 'simulated-receive.json');

function lineIds() {
  return Array.from({ length: lineCount }, (_, i) => `goip${String(i + 1).padStart(2, '0')}`);
}

function prepareUserDir() {
  fs.mkdirSync(userDir, { recursive: true });
  fs.writeFileSync(
    path.join(userDir, 'settings.js'),
    `module.exports = ${JSON.stringify(
      {
        uiHost: '127.0.0.1',
        uiPort,
        flowFile: 'flows.json',
        credentialSecret: false,
        nodesDir: [root],
        editorTheme: { tours: false, projects: { enabled: false } },
        logging: { console: { level: 'info' } },
      },
      null,
      2,
    )};\n`,
  );
  const flowsFile = path.join(userDir, 'flows.json');
  if (fs.existsSync(flowsFile)) {
    console.log(`Keeping your flows in ${flowsFile} (delete it to get the example flow back).`);
    return;
  }
  const flow = JSON.parse(fs.readFileSync(exampleFlow, 'utf8'));
  const credentials = {};
  for (const node of flow) {
    if (node.type !== 'goip-config') continue;
    node.port = goipPort;
    credentials[node.id] = { devices: JSON.stringify(lineIds().map((id) => ({ id, password }))) };
  }
  fs.writeFileSync(flowsFile, JSON.stringify(flow, null, 2));
  fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(credentials, null, 2));
}

function editorUp() {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: uiPort, path: '/settings', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

async function waitForEditor(child) {
  for (let attempt = 0; attempt < 120; attempt++) {
    if (child.exitCode !== null) throw new Error(`Node-RED exited with code ${child.exitCode}`);
    if (await editorUp()) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error('Node-RED did not start within 60 s');
}

async function main() {
  prepareUserDir();
  const children = [];
  const stopAll = () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  };
  process.on('SIGINT', stopAll);
  process.on('SIGTERM', stopAll);

  const nodeRed = spawn(process.execPath, [require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')], {
    stdio: 'inherit',
  });
  children.push(nodeRed);
  nodeRed.on('exit', (code) => {
    stopAll();
    process.exitCode = code ?? 0;
  });
  await waitForEditor(nodeRed);

  const sim = spawn(
    process.execPath,
    [
      path.join(root, 'dist', 'sim', 'cli.js'),
      '--host', '127.0.0.1',
      '--port', String(goipPort),
      '--lines', String(lineCount),
      '--id-prefix', 'goip',
      '--password', password,
      '--keepalive', '10',
      '--sms-every', String(smsEvery),
    ],
    { stdio: 'inherit' },
  );
  children.push(sim);
  console.log(
    `\nNode-RED editor: http://127.0.0.1:${uiPort}  ·  ${lineCount} simulated GoIP line(s) (${lineIds().join(', ')}, password "${password}") ` +
      `send keepalives to UDP 127.0.0.1:${goipPort}${smsEvery > 0 ? ` and a demo SMS every ${smsEvery} s` : ''}. Ctrl-C stops everything.\n`,
  );
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
