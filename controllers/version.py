from odoo import http
from odoo.release import version, version_info

from .. import dispatch


class VersionController(http.Controller):
    """19.0's version endpoints, answering with the real server version."""

    @http.route(["/web/version", "/json/version"], type="http", auth="none", methods=["GET"],
                readonly=True, save_session=False)
    def version(self):
        return dispatch.json_response(
            http.request, {"version_info": list(version_info), "version": version}
        )
