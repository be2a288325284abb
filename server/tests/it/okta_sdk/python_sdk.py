"""Okta's Python management SDK (`okta` 3.x, unmodified) against a running Portcullis.

Run by `okta_sdk_python.rs` with: the org URL, the bootstrap admin token and a read-only
admin's API token. Exits non-zero, saying which step failed, when anything differs from Okta.
"""

import asyncio
import os
import sys

# The test server listens on plain http; the SDK's https check is the only thing lifted.
os.environ["OKTA_TESTING_TESTINGDISABLEHTTPSCHECK"] = "true"

from okta.client import Client as OktaClient  # noqa: E402
from okta.models import (  # noqa: E402
    AssignRoleToUserRequest, CreateUserRequest, StandardRoleAssignmentSchema, UserSchema)
from okta.pagination import PaginationHelper  # noqa: E402


def check(what, ok, detail=""):
    if not ok:
        sys.exit(f"FAILED: {what} {detail}")
    print(f"ok: {what}")


async def every_page(call, **params):
    """All items of a listing, following the `after` cursor of each `Link: rel="next"`."""
    out, after = [], None
    while True:
        items, resp, err = await call(**params, after=after)
        check(f"page of {call.__name__}", err is None, err)
        out += items
        after = PaginationHelper.extract_next_cursor(resp.headers)
        if not after:
            return out


async def main(org, admin_token, read_only_token):
    config = {"orgUrl": org, "token": admin_token, "cache": {"enabled": False}}
    async with OktaClient(config) as client:
        made = []
        for n, department in [(1, "Engineering"), (2, "Sales"), (3, "engineering")]:
            login = f"py{n}@example.com"
            user, _, err = await client.create_user(
                {
                    "profile": {
                        "login": login, "email": login, "firstName": "Py", "lastName": f"Person{n}",
                        "department": department, "title": "Engineer", "nickName": f"p{n}",
                        "zipCode": "0150", "employeeNumber": f"e{n}",
                    },
                    "credentials": {"password": {"value": "Sturdy-Gate-Passw0rd-9"}},
                },
                activate=True,
            )
            check(f"create_user {login}", err is None and user.status == "ACTIVE", err)
            made.append(user)

        user, _, err = await client.get_user(made[0].id)
        check("get_user keeps standard attributes", err is None
              and user.profile.department == "Engineering" and user.profile.nick_name == "p1"
              and user.profile.zip_code == "0150", err or user.profile)

        found = await every_page(client.list_users, search='profile.department eq "ENGINEERING"', limit=1)
        check("search pages through every match", sorted(u.id for u in found) == sorted([made[0].id, made[2].id]),
              [u.profile.login for u in found])
        ordered = await every_page(client.list_users, search='profile.employeeNumber sw "e"',
                                   sort_by="profile.lastName", sort_order="desc", limit=2)
        check("sortBy and sortOrder", [u.profile.last_name for u in ordered] == ["Person3", "Person2", "Person1"],
              [u.profile.last_name for u in ordered])
        _, _, err = await client.list_users(search="profile.department eq")
        check("a malformed search is E0000031", err is not None and "E0000031" in str(err), err)
        exact = await every_page(client.list_users, filter='profile.lastName eq "Person2"')
        check("filter", [u.id for u in exact] == [made[1].id], exact)

        _, _, err = await client.update_user(made[1].id, {"profile": {"department": "Engineering"}})
        check("update_user", err is None, err)
        user, _, _ = await client.get_user(made[1].id)
        check("update_user kept the change", user.profile.department == "Engineering")
        for step in (client.suspend_user, client.unsuspend_user, client.deactivate_user):
            _, _, err = await step(made[1].id)
            check(step.__name__, err is None, err)
        _, _, err = await client.delete_user(made[1].id)
        check("delete_user", err is None, err)
        _, _, err = await client.get_user(made[1].id)
        check("a deleted user is 404", err is not None and "E0000007" in str(err), err)

        # Custom attributes of each type, declared through the schema API, keep their type.
        # (The SDK keeps a custom attribute only in its models: a plain dict loses it.)
        schema, _, err = await client.update_user_profile("default", UserSchema.from_dict({
            "definitions": {"custom": {"id": "#custom", "type": "object", "properties": {
                "seat": {"title": "Seat", "type": "integer", "minimum": 1},
                "remote": {"title": "Remote", "type": "boolean"},
                "langs": {"title": "Languages", "type": "array", "items": {"type": "string"}},
            }}}}))
        check("update_user_profile declares typed attributes", err is None, err)
        for n, seat in [(1, 12), (2, 3)]:
            login = f"typed{n}@example.com"
            user, _, err = await client.create_user(CreateUserRequest.from_dict({"profile": {
                "login": login, "email": login, "firstName": "Ty", "lastName": f"Ped{n}",
                "seat": seat, "remote": n == 1, "langs": ["fr", "en"][:n]}}))
            check(f"create_user with typed attributes {login}", err is None, err)
        profile = user.profile.to_dict()
        check("typed attributes come back as their type",
              profile.get("seat") == 3 and profile.get("remote") is False
              and profile.get("langs") == ["fr", "en"], profile)
        _, _, err = await client.create_user(CreateUserRequest.from_dict({"profile": {
            "login": "typed3@example.com", "email": "typed3@example.com", "firstName": "Ty",
            "lastName": "Ped3", "seat": "twelve"}}))
        check("a value of the wrong type is refused", err is not None and "E0000001" in str(err), err)
        found = await every_page(client.list_users, search="profile.seat gt 2", sort_by="profile.seat")
        check("search and sort on an integer", [u.profile.to_dict()["seat"] for u in found] == [3, 12],
              [u.profile for u in found])

        group, _, err = await client.add_group({"profile": {"name": "python sdk group"}})
        check("add_group", err is None, err)
        _, _, err = await client.assign_user_to_group(group.id, made[0].id)
        check("assign_user_to_group", err is None, err)
        members = await every_page(client.list_group_users, group_id=group.id)
        check("list_group_users", [m.id for m in members] == [made[0].id], members)

        origin, _, err = await client.create_trusted_origin(
            {"name": "python", "origin": "https://python.example", "scopes": [{"type": "CORS"}]})
        check("create_trusted_origin", err is None, err)
        _, _, err = await client.deactivate_trusted_origin(origin.id)
        check("deactivate_trusted_origin", err is None, err)
        origin, _, err = await client.activate_trusted_origin(origin.id)
        check("activate_trusted_origin", err is None and origin.status == "ACTIVE", err)

        org_admin = AssignRoleToUserRequest(StandardRoleAssignmentSchema(type="ORG_ADMIN"))
        role, _, err = await client.assign_role_to_user(made[2].id, org_admin)
        check("assign_role_to_user", err is None, err)
        _, _, err = await client.assign_role_to_user(made[2].id, org_admin)
        check("a role held already is E0000090", err is not None and "E0000090" in str(err), err)
        roles, _, err = await client.list_assigned_roles_for_user(made[2].id)
        role_types = [r.actual_instance.type if hasattr(r, "actual_instance") else r.type for r in roles or []]
        check("list_assigned_roles_for_user", err is None and [str(t) for t in role_types] in (["ORG_ADMIN"], ["RoleType.ORG_ADMIN"]), role_types)
        tokens, _, err = await client.list_api_tokens()
        check("list_api_tokens", err is None and [t.name for t in tokens] == ["python sdk"], err or tokens)
        _, _, err = await client.revoke_user_sessions(made[0].id, oauth_tokens=True)
        check("revoke_user_sessions", err is None, err)

    # The Python SDK sends `SSWS<token>` without a space; a read-only admin reads, cannot write.
    async with OktaClient({"orgUrl": org, "token": read_only_token, "cache": {"enabled": False}}) as ro:
        users, _, err = await ro.list_users(limit=2)
        check("a read-only token reads", err is None and len(users) == 2, err)
        _, _, err = await ro.create_user({"profile": {"login": "no@example.com", "email": "no@example.com",
                                                      "firstName": "N", "lastName": "O"}})
        check("a read-only token cannot write (E0000006)", err is not None and "E0000006" in str(err), err)


asyncio.run(main(*sys.argv[1:4]))
