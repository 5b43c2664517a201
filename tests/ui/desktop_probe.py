#!/usr/bin/python3
"""The desktop around the window, for tests/ui/e2e.py: what a tray host, the XDG desktop portal
and a window manager would be, on the test's own D-Bus session and Xvfb display.

Runs under the system Python (python3-dbus, python3-gi, python3-xlib from apt), not the venv:

  desktop_probe.py serve                 a StatusNotifierWatcher (the tray host's registry) and
                                         the portal's Settings (color-scheme), until killed
  desktop_probe.py scheme N              the portal says color-scheme N (0 none, 1 dark, 2 light)
  desktop_probe.py tray                  the registered tray items' menus, as JSON
  desktop_probe.py click LABEL           clicks the tray menu item labelled LABEL
  desktop_probe.py window                "viewable", "unmapped" or "none" for the Passbridge window
  desktop_probe.py close                 asks the Passbridge window to close, as a window manager
                                         does when its close button is pressed (WM_DELETE_WINDOW)
"""

from __future__ import annotations

import json
import sys
import time

WATCHER = "org.kde.StatusNotifierWatcher"
PORTAL = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
SETTINGS = "org.freedesktop.portal.Settings"
CONTROL = "org.passbridge.Test"


def serve() -> None:
    import dbus
    import dbus.service
    from dbus.mainloop.glib import DBusGMainLoop
    from gi.repository import GLib

    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    items: list[str] = []
    scheme = [dbus.UInt32(0)]

    class Watcher(dbus.service.Object):
        @dbus.service.method(WATCHER, in_signature="s", sender_keyword="sender")
        def RegisterStatusNotifierItem(self, service, sender=None):
            # libayatana-appindicator passes its object path; others pass a bus name.
            items.append(f"{sender}{service}" if service.startswith("/") else str(service))
            self.StatusNotifierItemRegistered(items[-1])

        @dbus.service.method(WATCHER, in_signature="s")
        def RegisterStatusNotifierHost(self, service):
            pass

        @dbus.service.signal(WATCHER, signature="s")
        def StatusNotifierItemRegistered(self, item):
            pass

        def props(self):
            return {
                "RegisteredStatusNotifierItems": dbus.Array(items, signature="s"),
                "IsStatusNotifierHostRegistered": dbus.Boolean(True),
                "ProtocolVersion": dbus.Int32(0),
            }

        @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ss", out_signature="v")
        def Get(self, interface, name):
            return self.props()[name]

        @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="s", out_signature="a{sv}")
        def GetAll(self, interface):
            return self.props()

    class Portal(dbus.service.Object):
        # Read answers a variant in a variant (the portal's older signature, which tao reads).
        @dbus.service.method(SETTINGS, in_signature="ss", out_signature="v")
        def Read(self, namespace, key):
            self.check(namespace, key)
            return dbus.UInt32(scheme[0], variant_level=2)

        @dbus.service.method(SETTINGS, in_signature="ss", out_signature="v")
        def ReadOne(self, namespace, key):
            self.check(namespace, key)
            return dbus.UInt32(scheme[0], variant_level=1)

        def check(self, namespace, key):
            if (namespace, key) != ("org.freedesktop.appearance", "color-scheme"):
                raise dbus.exceptions.DBusException(
                    "no such setting", name="org.freedesktop.portal.Error.NotFound")

        @dbus.service.signal(SETTINGS, signature="ssv")
        def SettingChanged(self, namespace, key, value):
            pass

        @dbus.service.method(CONTROL, in_signature="u")
        def SetColorScheme(self, value):
            scheme[0] = dbus.UInt32(value)
            self.SettingChanged("org.freedesktop.appearance", "color-scheme",
                                dbus.UInt32(value, variant_level=1))

    watcher_name = dbus.service.BusName(WATCHER, bus)
    portal_name = dbus.service.BusName(PORTAL, bus)
    Watcher(bus, "/StatusNotifierWatcher")
    Portal(bus, PORTAL_PATH)
    print("serving", watcher_name.get_name(), portal_name.get_name(), flush=True)
    GLib.MainLoop().run()


def scheme(value: int) -> None:
    import dbus
    portal = dbus.SessionBus().get_object(PORTAL, PORTAL_PATH)
    portal.SetColorScheme(dbus.UInt32(value), dbus_interface=CONTROL)


def registered() -> list[str]:
    import dbus
    watcher = dbus.SessionBus().get_object(WATCHER, "/StatusNotifierWatcher")
    return [str(i) for i in watcher.Get(WATCHER, "RegisteredStatusNotifierItems",
                                        dbus_interface=dbus.PROPERTIES_IFACE)]


def menus() -> list[dict]:
    """Each registered item: its bus name, title, and menu entries (id, label, enabled)."""
    import dbus
    bus = dbus.SessionBus()
    out = []
    for item in registered():
        name, _, path = item.partition("/")
        try:
            item_obj = bus.get_object(name, "/" + path)
            props = item_obj.GetAll("org.kde.StatusNotifierItem", dbus_interface=dbus.PROPERTIES_IFACE)
            menu_obj = bus.get_object(name, str(props["Menu"]))
            _, layout = menu_obj.GetLayout(0, -1, dbus.Array([], signature="s"),
                                           dbus_interface="com.canonical.dbusmenu")
        except dbus.exceptions.DBusException:
            continue  # an item whose program has ended (a real watcher would drop it)
        entries: list[dict] = []

        def walk(node, depth):
            node_id, node_props, children = node
            label = str(node_props.get("label", ""))
            if label or node_props.get("type") == "separator":
                entries.append({
                    "id": int(node_id),
                    "label": label.replace("_", ""),
                    "enabled": bool(node_props.get("enabled", True)),
                    "depth": depth,
                    "toggle": int(node_props.get("toggle-state", -1)),
                })
            for child in children:
                walk(child, depth + 1)

        walk(layout, 0)
        out.append({"item": item, "title": str(props.get("Title", "")),
                    "tooltip": str(props.get("ToolTip", ("", [], "", ""))[2]),
                    "menu": str(props["Menu"]), "entries": entries})
    return out


def click(label: str) -> None:
    import dbus
    bus = dbus.SessionBus()
    for item in menus():
        for entry in item["entries"]:
            if entry["label"] == label and entry["enabled"]:
                name = item["item"].partition("/")[0]
                menu = bus.get_object(name, item["menu"])
                menu.Event(dbus.Int32(entry["id"]), "clicked", dbus.Int32(0, variant_level=1),
                           dbus.UInt32(int(time.time())), dbus_interface="com.canonical.dbusmenu")
                return
    raise SystemExit(f"no enabled tray menu item {label!r} in {json.dumps(menus())}")


def find_window():
    from Xlib import X, display
    d = display.Display()
    for child in d.screen().root.query_tree().children:
        try:
            if child.get_wm_name() == "Passbridge" and child.get_attributes().win_class == X.InputOutput:
                return d, child
        except Exception:  # a window that went away while we looked
            continue
    return d, None


def window_state() -> str:
    from Xlib import X
    _, window = find_window()
    if window is None:
        return "none"
    return "viewable" if window.get_attributes().map_state == X.IsViewable else "unmapped"


def close() -> None:
    from Xlib import X
    from Xlib.protocol import event
    d, window = find_window()
    if window is None:
        raise SystemExit("no Passbridge window")
    protocols = d.intern_atom("WM_PROTOCOLS")
    delete = d.intern_atom("WM_DELETE_WINDOW")
    message = event.ClientMessage(window=window, client_type=protocols,
                                  data=(32, [delete, X.CurrentTime, 0, 0, 0]))
    window.send_event(message, event_mask=X.NoEventMask)
    d.flush()


def main() -> None:
    command, args = sys.argv[1], sys.argv[2:]
    if command == "serve":
        serve()
    elif command == "scheme":
        scheme(int(args[0]))
    elif command == "tray":
        print(json.dumps(menus()))
    elif command == "click":
        click(args[0])
    elif command == "window":
        print(window_state())
    elif command == "close":
        close()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
