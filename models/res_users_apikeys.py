import hashlib
from datetime import datetime, timezone

from odoo import models, tools


class ResUsersApikeys(models.Model):
    _inherit = "res.users.apikeys"

    @tools.ormcache()
    def _verified_key_cache(self):
        """Per-process ``{digest: (uid, expires)}`` of keys verified since the last invalidation.

        The dict lives in the registry's ``default`` ormcache, so any
        ``registry.clear_cache()`` (signalled to every worker and server)
        starts a new, empty one.
        """
        return {}

    def _check_credentials_cached(self, *, scope, key):
        """``_check_credentials`` without paying pbkdf2 on every call.

        The cache is keyed by a SHA-256 digest of scope and key, never the
        key itself, and an entry never outlives the key's expiration; removal
        of a key and deactivation of a user invalidate it on every worker.
        """
        digest = hashlib.sha256(f"{scope}\x00{key}".encode()).digest()
        cache = self._verified_key_cache()
        hit = cache.get(digest)
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        if hit and (hit[1] is None or hit[1] >= now):
            return hit[0]
        uid = self._check_credentials(scope=scope, key=key)
        if uid:
            # the earliest expiration among the candidates is a safe bound
            self.env.cr.execute(
                f"""SELECT bool_or(expiration_date IS NULL), min(expiration_date)
                      FROM {self._table}
                     WHERE index = %s AND user_id = %s AND (scope IS NULL OR scope = %s)""",
                [key[:8], uid, scope],
            )
            never, earliest = self.env.cr.fetchone()
            cache[digest] = (uid, earliest if earliest or not never else None)
        else:
            cache.pop(digest, None)
        return uid

    def unlink(self):
        res = super().unlink()
        self.env.registry.clear_cache()  # a removed key stops working on every worker
        return res
