import { stepUtils } from "@web_tour/tour_service/tour_utils";

/**
 * The steps an administrator takes from the home menu to a screen of the Integrations app
 * (no developer mode): the app, then the section's dropdown if the entry is in one, then the entry.
 * ``section`` and ``entry`` are menu xmlids of integration_suite without the module prefix.
 */
export function openIntegrationsScreen(entry, section = null) {
    const steps = [...stepUtils.goToAppSteps("integration_suite.menu_integrations", "Open the Integrations app")];
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
