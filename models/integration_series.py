from odoo import api, models

from .. import series


class IntegrationSeries(models.AbstractModel):
    """Loads the data that differ between Odoo series (``series/<serie>/*.xml``): a data file's
    ``<function>`` calls it on every install and update, after the addon's own data."""

    _name = "integration.series"
    _description = "Integration Suite: data of this Odoo series"

    @api.model
    def _load_series_data(self):
        series.load_data(self.env)
