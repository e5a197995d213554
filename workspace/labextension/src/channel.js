/**
 * The "Launch into the open tab" protocol between the marketplace page and a
 * JupyterLab tab of the same browser. Both live on the hub's origin, so a
 * BroadcastChannel reaches every Lab tab without a server round trip.
 *
 * The marketplace side is gemhub/marketplace/static/launch-into-lab.js (plain
 * JS served by the marketplace, so it repeats CHANNEL and the message types;
 * tests/user_env/test_labextension.py fails if the two disagree).
 *
 *   Lab -> all    {type: "here", lab}            on start, and in answer to "ping"
 *   Lab -> all    {type: "gone", lab}            when the tab closes
 *   page -> all   {type: "ping"}                 a marketplace page asks who is open
 *   page -> all   {type: "launch", slug, fresh, id}
 *   Lab -> all    {type: "accepted", id, lab}    at once: this tab opens it, do not navigate
 *   Lab -> all    {type: "launched", id, path}   the notebook is open in that tab
 *   Lab -> all    {type: "failed", id, message}  the page then navigates as without a Lab
 */
export const CHANNEL = 'gemhub-launch';

/** Only one Lab tab answers a launch: the one holding this Web Lock (the oldest open tab). */
export const LEADER_LOCK = 'gemhub-launch-leader';
