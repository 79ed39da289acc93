/**
 * The GoIP editor sidebar (plugins/goip-sidebar.html, assembled beside this file): the editor part
 * does the work; the runtime only registers the plugin. Its data comes from each goip-config over
 * the editor comms (src/nodes/sidebar-feed.ts).
 */
interface PluginAPI {
  plugins: { registerPlugin(id: string, definition: Record<string, unknown>): void };
}

export = function register(RED: PluginAPI): void {
  RED.plugins.registerPlugin('goip-sidebar', {});
};
