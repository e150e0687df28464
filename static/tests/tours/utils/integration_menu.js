import { waitFor } from "@odoo/hoot-dom";

/**
 * The steps of web_tour's ``stepUtils.goToAppSteps`` / ``saveForm`` (the same on 18.0 and 19.0),
 * written here because web_tour's module moved between the series (``@web_tour/tour_service/tour_utils``
 * on 18.0, ``@web_tour/tour_utils`` on 19.0).
 */
export function goToAppSteps(dataMenuXmlid, description) {
    return [
        {
            isActive: ["auto", "community", "desktop"],
            trigger: ".o_navbar_apps_menu button:enabled",
            tooltipPosition: "bottom",
            run: "click",
        },
        {
            isActive: ["community"],
            trigger: `.o_app[data-menu-xmlid="${dataMenuXmlid}"]`,
            content: description,
            tooltipPosition: "right",
            run: "click",
        },
        {
            isActive: ["enterprise"],
            trigger: `.o_app[data-menu-xmlid="${dataMenuXmlid}"]`,
            content: description,
            tooltipPosition: "bottom",
            run: "click",
        },
    ];
}

export function saveForm() {
    return [
        { isActive: ["auto"], content: "save form", trigger: ".o_form_button_save:enabled", run: "click" },
        { content: "wait for save completion", trigger: ".o_form_readonly, .o_form_saved" },
    ];
}

/**
 * The steps an administrator takes from the home menu to a screen of the Integrations app
 * (no developer mode): the app, then the section's dropdown if the entry is in one, then the entry.
 * ``section`` and ``entry`` are menu xmlids of integration_suite without the module prefix.
 */
export function openIntegrationsScreen(entry, section = null) {
    const steps = [...goToAppSteps("integration_suite.menu_integrations", "Open the Integrations app")];
    if (section) {
        steps.push({
            content: `Open the ${section} menu`,
            trigger: `button[data-menu-xmlid="integration_suite.${section}"]`,
            run: "click",
        });
    }
    steps.push({
        content: `Open ${entry}`,
        trigger: `a[data-menu-xmlid="integration_suite.${entry}"]`,
        run: "click",
    });
    return steps;
}

/**
 * A selection field in a form: 18.0 renders a ``<select>``, 19.0 a SelectMenu (a toggler and a
 * dropdown of items). ``selectionShows`` is the trigger of a field showing ``label``;
 * ``chooseSelection`` picks ``value`` (its ``label`` on 19.0) on either.
 */
export function selectionShows(name, label) {
    const field = `.o_field_widget[name="${name}"]`;
    return [
        `${field} select:has(option:checked:contains("${label}"))`,
        `${field} .o_select_menu_toggler:contains("${label}")`,
        `${field} input.o_select_menu_toggler:value("${label}")`,
    ].join(", ");
}

export function chooseSelection(name, value, label, content) {
    return {
        content,
        trigger: `.o_field_widget[name="${name}"] select, .o_field_widget[name="${name}"] .o_select_menu_toggler`,
        async run(helpers) {
            if (this.anchor.tagName === "SELECT") {
                await helpers.select(value);
                return;
            }
            await helpers.click();
            (await waitFor(`.o_select_menu_item:contains("${label}")`)).click();
        },
    };
}
