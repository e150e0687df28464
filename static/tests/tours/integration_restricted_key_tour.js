import { queryText } from "@odoo/hoot-dom";
import { registry } from "@web/core/registry";

/**
 * The owner restricts a key while creating it (Preferences › Account Security › New API Key):
 * read-only, contacts only, from this machine, 120 calls a minute. The key shown at the end is
 * then used from the browser: it reads contacts, and is refused a write and another model.
 */
async function callWithKey(key, path, body) {
    const response = await fetch(path, {
        method: "POST",
        headers: { Authorization: `bearer ${key}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
    });
    return { status: response.status, headers: response.headers, body: await response.json() };
}

// 18.0 and 19.0: the user menu's item, the tab ("Account Security" / "Security"), the key list
// (18.0 a list, 19.0 cards)
const PREFERENCES = "[data-menu=settings], [data-menu=preferences]";
const SECURITY_TAB = 'a[role=tab]:contains("Security")';

function expect(condition, message) {
    if (!condition) {
        throw new Error(message);
    }
}

registry.category("web_tour.tours").add("integration_suite_restricted_key_tour", {
    url: "/odoo?debug=1", // 18.0 shows the API keys in debug mode
    steps: () => [
        { content: "Open the user menu", trigger: ".o_user_menu .dropdown-toggle", run: "click" },
        { content: "Preferences", trigger: PREFERENCES, run: "click" },
        { content: "Account Security", trigger: SECURITY_TAB, run: "click" },
        { content: "New API Key", trigger: "button[name=api_key_wizard]", run: "click" },
        { content: "Confirm the password", trigger: ".modal [name=password] input", run: "edit admin" },
        { trigger: ".modal button:contains(Confirm Password)", run: "click" },
        { content: "Name the key", trigger: ".modal [name=name] input", run: "edit tour dashboard" },
        { content: "Read-only", trigger: ".modal [name=integration_read_only] input", run: "click" },
        { content: "Only contacts", trigger: ".modal [name=integration_model_ids] input", run: "edit Contact" },
        { trigger: ".o-autocomplete--dropdown-item:contains(Contact):not(:contains(Tag))", run: "click" },
        {
            content: "Only from this machine",
            trigger: ".modal [name=integration_allowed_addresses] input",
            run: "edit 127.0.0.1, ::1",
        },
        { content: "At most 120 calls a minute", trigger: ".modal [name=integration_rate_limit] input", run: "edit 120" },
        { content: "Generate", trigger: '.modal button:contains("Generate key")', run: "click" },
        {
            content: "Use the key: it reads contacts, and nothing else",
            trigger: '.modal p:contains("Here is your new API key")',
            run: async () => {
                const key = queryText("code [name=key] span");
                const read = await callWithKey(key, "/json/2/res.partner/search_count", { domain: [] });
                expect(read.status === 200, `search_count: ${read.status} ${JSON.stringify(read.body)}`);
                expect(read.headers.get("RateLimit-Policy") === '"api-key";q=120;w=60', "RateLimit-Policy");
                const write = await callWithKey(key, "/json/2/res.partner/write", { ids: [1], vals: {} });
                expect(write.status === 403 && write.body.message.includes("read-only"), JSON.stringify(write.body));
                const other = await callWithKey(key, "/json/2/res.users/search_count", { domain: [] });
                expect(other.status === 403, JSON.stringify(other.body));
            },
        },
        { trigger: "button:contains(Done)", run: "click" },
        { content: "Preferences again", trigger: ".o_user_menu .dropdown-toggle", run: "click" },
        { trigger: PREFERENCES, run: "click" },
        { trigger: SECURITY_TAB, run: "click" },
        {
            content: "The key list shows its restrictions",
            trigger: ['.o_data_row', '.o_kanban_record'].map(
                (item) => `[name=api_key_ids] ${item}:contains("tour dashboard"):contains("read-only · res.partner")`
            ).join(", "),
        },
    ],
});
