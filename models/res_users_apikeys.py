import hashlib
import re

from odoo import models, tools

from odoo.addons.base.models.res_users import INDEX_SIZE, KEY_CRYPT_CONTEXT

# what a bearer token can look like: visible ASCII, bounded (18.0 keys are 40 hex digits)
KEY_SHAPE = re.compile(r"[\x21-\x7e]{1,512}\Z")


class ResUsersApikeys(models.Model):
    _inherit = "res.users.apikeys"

    @tools.ormcache()
    def _verified_key_cache(self):
        """Per-process ``{digest: (uid, key id)}`` of keys whose pbkdf2 hash was verified.

        It only saves the pbkdf2 cost: whether the key is still valid is asked of the
        database on every call (see ``_check_credentials_cached``).
        """
        return {}

    def _check_credentials_cached(self, *, scope, key):
        """``_check_credentials`` that pays pbkdf2 once per key and process, not once per call.

        The cache is keyed by a SHA-256 digest of scope and key, never the key itself. On a hit,
        one primary-key query confirms the key's row, its user's ``active`` flag and its expiry,
        so a key removed or a user archived by any means (SQL, a script, another server) is
        refused at once by every worker. A malformed token is refused without a query.
        """
        if not isinstance(key, str) or not KEY_SHAPE.match(key):
            return None
        digest = hashlib.sha256(f"{scope}\x00{key}".encode()).digest()
        cache = self._verified_key_cache()
        hit = cache.get(digest)
        if hit:
            if self._key_still_valid(hit[1], scope):
                return hit[0]
            cache.pop(digest, None)
            return None
        uid = self._check_credentials(scope=scope, key=key)
        key_id = uid and self._verified_key_id(uid, scope, key)
        if key_id:
            cache[digest] = (uid, key_id)
        return uid

    def _key_still_valid(self, key_id, scope):
        self.env.cr.execute(
            f"""SELECT 1 FROM {self._table} k JOIN res_users u ON u.id = k.user_id
                 WHERE k.id = %s AND u.active AND (k.scope IS NULL OR k.scope = %s)
                   AND (k.expiration_date IS NULL OR k.expiration_date >= now() AT TIME ZONE 'utc')""",
            [key_id, scope],
        )
        return bool(self.env.cr.fetchone())

    def _verified_key_id(self, uid, scope, key):
        """The id of the row ``key`` matched (pbkdf2 again only when two keys share an index)."""
        self.env.cr.execute(
            f"SELECT id, key FROM {self._table} WHERE index = %s AND user_id = %s AND (scope IS NULL OR scope = %s)",
            [key[:INDEX_SIZE], uid, scope],
        )
        rows = self.env.cr.fetchall()
        if len(rows) == 1:
            return rows[0][0]
        return next((key_id for key_id, hashed in rows if KEY_CRYPT_CONTEXT.verify(key, hashed)), None)
