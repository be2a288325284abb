// Serves the host pages in this folder: the "other website" that embeds the widget.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));
const port = Number(process.argv[2] ?? 3902);
// Client libraries the host pages load, as a site would from its own bundle or a CDN.
const vendor = {
  '/vendor/okta-auth-js.min.js': join(root, '../node_modules/@okta/okta-auth-js/dist/okta-auth-js.min.js'),
  '/vendor/okta-sign-in.min.js': join(root, '../node_modules/@okta/okta-signin-widget/dist/js/okta-sign-in.min.js'),
  '/vendor/okta-sign-in.min.css': join(root, '../node_modules/@okta/okta-signin-widget/dist/css/okta-sign-in.min.css'),
};
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' };

/** The page written for Okta's widget with one change, its script tag: Portcullis's loader. */
async function dropIn(url) {
  const page = await readFile(join(root, 'okta-widget.html'), 'utf8');
  const loader = `${url.searchParams.get('baseUrl')}/widget/v1/portcullis-signin.js`;
  return page.replace('<script src="/vendor/okta-sign-in.min.js"></script>', `<script src="${loader}"></script>`);
}

createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const path = url.pathname;
  if (path === '/okta-widget-drop-in.html') {
    res.writeHead(200, { 'content-type': types['.html'], 'cache-control': 'no-store' });
    res.end(await dropIn(url));
    return;
  }
  const file = vendor[path] ?? normalize(join(root, path === '/' ? 'index.html' : path));
  if (!vendor[path] && (!file.startsWith(root) || file.endsWith('.mjs'))) {
    res.writeHead(404).end('not found');
    return;
  }
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(body);
  } catch {
    res.writeHead(404).end('not found');
  }
}).listen(port, '127.0.0.1', () => console.log(`host pages on http://localhost:${port}/`));
