/**
 * gemhub's JupyterLab extension: what a new user sees first, and Launch into
 * the open tab.
 *
 * - A Launcher section "gemhub": Marketplace and Credentials (the hub's pages,
 *   in a new browser tab) and "Start here" (a curated notebook, copied through
 *   the Launch endpoint when clicked, so the home holds only what was asked for).
 * - A listener on the marketplace's BroadcastChannel (channel.js): a Launch
 *   clicked in the marketplace opens the copy in this tab instead of booting a
 *   second JupyterLab.
 *
 * What the links point at is decided by the user server
 * (gemhub_workspace/landing.py) and handed over in the page config, so a
 * server outside a gemhub hub (Binder, a laptop) simply shows fewer cards.
 */
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { ILauncher } from '@jupyterlab/launcher';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { launchIcon, lockIcon, notebookIcon } from '@jupyterlab/ui-components';

import { CHANNEL, LEADER_LOCK } from './channel';

const CATEGORY = 'gemhub';
const REFRESH_FILES = 'filebrowser:refresh';

/** Copy curated notebook `slug` on this server (or find the existing copy); its path. */
async function copyCurated(slug, fresh) {
  const settings = ServerConnection.makeSettings();
  const launchPath = PageConfig.getOption('gemhubLaunchPath');
  let url = URLExt.join(settings.baseUrl, launchPath, encodeURIComponent(slug));
  if (fresh) {
    url += '?fresh=1';
  }
  const response = await ServerConnection.makeRequest(
    url,
    { headers: { Accept: 'application/json' } },
    settings
  );
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.path) {
    // Not ok, or a login page after a redirect: this tab's session is gone.
    throw new Error(body.message || `Launch failed (HTTP ${response.status})`);
  }
  return body.path;
}

/** Open `path` in the main area and resolve once its content is loaded. */
async function openNotebook(docManager, shell, path) {
  const widget = docManager.openOrReveal(path);
  if (!widget) {
    throw new Error(`Could not open ${path}`);
  }
  shell.activateById(widget.id);
  await widget.context.ready;
  return widget;
}

/** Copy and open curated notebook `slug`; the copy's path. */
async function launch(app, docManager, slug, fresh) {
  const path = await copyCurated(slug, fresh);
  await openNotebook(docManager, app.shell, path);
  // The server wrote the copy, so the file browser has not heard of it yet.
  if (app.commands.hasCommand(REFRESH_FILES)) {
    void app.commands.execute(REFRESH_FILES);
  }
  return path;
}

function addLauncherItems(app, launcher, docManager) {
  const items = [
    {
      id: 'gemhub:marketplace',
      label: 'Marketplace',
      caption: 'Curated Earth-observation notebooks, ready to launch',
      icon: launchIcon,
      url: PageConfig.getOption('gemhubMarketplaceUrl')
    },
    {
      id: 'gemhub:credentials',
      label: 'Credentials',
      caption: 'Your Sentinel Hub credentials (sandbox data until they are set)',
      icon: lockIcon,
      url: PageConfig.getOption('gemhubCredentialsUrl')
    }
  ];
  let rank = 0;
  for (const item of items) {
    if (!item.url) {
      continue;
    }
    app.commands.addCommand(item.id, {
      label: item.label,
      caption: item.caption,
      icon: item.icon,
      execute: () => window.open(item.url, '_blank', 'noopener')
    });
    launcher.add({ command: item.id, category: CATEGORY, rank: rank++ });
  }
  const start = PageConfig.getOption('gemhubStartHere');
  if (start) {
    app.commands.addCommand('gemhub:start-here', {
      label: 'Start here',
      caption: 'A first notebook: what this workspace is and how to use it',
      icon: notebookIcon,
      execute: () => launch(app, docManager, start, false)
    });
    launcher.add({ command: 'gemhub:start-here', category: CATEGORY, rank: -1 });
  }
}

/** Answer the marketplace's Launch messages; only the leader tab (see channel.js) acts. */
function listenForLaunches(app, docManager) {
  if (typeof BroadcastChannel === 'undefined' || !PageConfig.getOption('gemhubLaunchPath')) {
    return;
  }
  const channel = new BroadcastChannel(CHANNEL);
  const lab = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  // Web Locks need a secure context (https or loopback); without them every tab answers.
  let leader = !(navigator.locks && window.isSecureContext);
  if (!leader) {
    navigator.locks.request(LEADER_LOCK, () => {
      leader = true;
      return new Promise(() => undefined); // held until this tab closes
    });
  }
  const post = message => channel.postMessage({ ...message, lab });
  channel.onmessage = ({ data }) => {
    if (!data || typeof data !== 'object') {
      return;
    }
    if (data.type === 'ping') {
      post({ type: 'here' });
    } else if (data.type === 'launch' && leader && typeof data.slug === 'string') {
      post({ type: 'accepted', id: data.id });
      launch(app, docManager, data.slug, Boolean(data.fresh)).then(
        path => post({ type: 'launched', id: data.id, path }),
        error => post({ type: 'failed', id: data.id, message: String(error.message || error) })
      );
    }
  };
  window.addEventListener('pagehide', () => post({ type: 'gone' }));
  post({ type: 'here' });
}

/**
 * Render one markdown snippet off-screen once Lab is idle. Lab loads its markdown
 * parser on first use, so the first notebook a Launch opens would otherwise wait for
 * it before its first (markdown) cell shows text: about a second on a busy machine.
 */
function warmUpMarkdown(rendermime) {
  const renderer = rendermime.createRenderer('text/markdown');
  const model = rendermime.createModel({ data: { 'text/markdown': '# gemhub' }, trusted: false });
  renderer
    .renderModel(model)
    .catch(() => undefined)
    .then(() => renderer.dispose());
}

const plugin = {
  id: '@gemhub/workspace:plugin',
  description: 'The gemhub Launcher section and Launch into the open JupyterLab tab',
  autoStart: true,
  requires: [IDocumentManager],
  optional: [ILauncher, IRenderMimeRegistry],
  activate: (app, docManager, launcher, rendermime) => {
    if (launcher) {
      addLauncherItems(app, launcher, docManager);
    }
    app.restored.then(() => {
      listenForLaunches(app, docManager);
      if (rendermime) {
        setTimeout(() => warmUpMarkdown(rendermime), 500);
      }
    });
  }
};

export default plugin;
